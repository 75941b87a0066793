import { chmod, mkdir, readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { writeFileAtomic } from '../core/fs-atomic.ts'

/*
 * The CLI's credentials: one token per main server (by URL origin), saved by `cidcast login` in
 * `$XDG_CONFIG_HOME/cidcast/credentials.json` (else `~/.config/cidcast/`), the folder 0700 and the file 0600,
 * replaced whole. `CIDCAST_TOKEN` overrides the file for every server.
 */

const FILE_VERSION = 1

/** One server's saved login. */
export interface SavedCredential {
  token: string
  user: string
  savedAt: string
}

interface CredentialsFile {
  version: number
  servers: Record<string, SavedCredential>
}

/** Where the credentials file lives. */
export function credentialsPath (env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME != null && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config')
  return join(base, 'cidcast', 'credentials.json')
}

/** The origin a server URL is saved under (`http://127.0.0.1:8080/` and `http://127.0.0.1:8080` are one server). */
function keyOf (server: string): string {
  return new URL(server).origin
}

async function readAll (path: string): Promise<CredentialsFile> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: FILE_VERSION, servers: {} }
    throw err
  }
  try {
    const parsed = JSON.parse(text) as Partial<CredentialsFile>
    if (parsed.version === FILE_VERSION && parsed.servers != null && typeof parsed.servers === 'object') return { version: FILE_VERSION, servers: parsed.servers }
  } catch {}
  // a damaged file is replaced at the next login rather than stopping every command
  return { version: FILE_VERSION, servers: {} }
}

/** The token for `server`: `CIDCAST_TOKEN`, else the one `cidcast login` saved, else undefined. */
export async function tokenFor (server: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (env.CIDCAST_TOKEN != null && env.CIDCAST_TOKEN !== '') return env.CIDCAST_TOKEN
  return (await readAll(credentialsPath(env))).servers[keyOf(server)]?.token
}

/** Saves (or with `undefined`, forgets) the login for `server`. */
export async function saveCredential (server: string, credential: SavedCredential | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const path = credentialsPath(env)
  const dir = join(path, '..')
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await chmod(dir, 0o700)
  const all = await readAll(path)
  if (credential == null) delete all.servers[keyOf(server)]
  else all.servers[keyOf(server)] = credential
  await writeFileAtomic(path, JSON.stringify(all, null, 2) + '\n', { mode: 0o600 })
  return path
}
