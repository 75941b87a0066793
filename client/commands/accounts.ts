import { createInterface } from 'node:readline/promises'
import { Writable } from 'node:stream'
import { Command, InvalidArgumentError } from 'commander'
import { createApiClient } from '../api-client.ts'
import { collect } from './options.ts'
import type { ApiClient } from '../api-client.ts'

/*
 * `cidcast login`/`logout`, `cidcast user ...` and `cidcast token ...`: accounts on a main server. Passwords are
 * asked on the terminal without echo, or read from standard input with `--password-stdin` (as `docker login`
 * does), never taken as an argument (where `ps` and shell history would keep them). A password or token the server
 * makes is printed once, on its own line, for the person to copy.
 */

/** Where `cidcast login` keeps its token; the CLI's process wiring gives it (node/credentials.ts). */
export interface CredentialStore {
  save: (server: string, credential: { token: string, user: string, savedAt: string } | undefined) => Promise<string>
}

export interface AccountCommandsIo {
  out?: NodeJS.WritableStream
  /** Where prompts go (stderr, so stdout stays for results). */
  err?: NodeJS.WritableStream
  input?: NodeJS.ReadableStream & { isTTY?: boolean }
}

interface UserView { id: string, name: string, role: string, folders: string[] | null, createdAt: string }
interface TokenView { id: string, userId: string, kind: string, name: string | null, createdAt: string, lastUsedAt: string | null, expiresAt: string | null }

/** Reads one line of standard input (a password piped in), without its line break. */
async function readStdinLine (input: NodeJS.ReadableStream): Promise<string> {
  let text = ''
  for await (const chunk of input) {
    text += String(chunk)
    if (text.includes('\n')) break
  }
  return text.split(/\r?\n/)[0]
}

/** Asks on the terminal; with `hidden`, what is typed is not shown. */
async function ask (question: string, io: Required<AccountCommandsIo>, hidden: boolean): Promise<string> {
  if (io.input.isTTY !== true) throw new InvalidArgumentError('no terminal to ask on: pipe the password with --password-stdin')
  let muted = false
  const output = new Writable({
    write (chunk, _encoding, done) {
      if (!muted) io.err.write(chunk as Buffer)
      done()
    }
  })
  const rl = createInterface({ input: io.input, output, terminal: true })
  try {
    const answer = rl.question(question)
    muted = hidden
    const text = await answer
    if (hidden) io.err.write('\n')
    return text
  } finally {
    rl.close()
  }
}

/** A password from `--password-stdin` or the terminal; refuses an empty one. */
async function passwordOf (opts: { passwordStdin?: boolean }, io: Required<AccountCommandsIo>, question = 'password: '): Promise<string> {
  const password = opts.passwordStdin === true ? await readStdinLine(io.input) : await ask(question, io, true)
  if (password === '') throw new InvalidArgumentError('the password is empty')
  return password
}

/**
 * Checks library folders given on the command line: they are paths on the server's disk, so a relative one (which
 * this shell's working folder cannot resolve for the server) is refused rather than guessed.
 */
function serverFolders (paths: readonly string[]): string[] {
  const relative = paths.find(path => !path.startsWith('/'))
  if (relative != null) throw new InvalidArgumentError(`${JSON.stringify(relative)} is not an absolute path: library folders are paths on the server's disk`)
  return [...paths]
}

/** A user's library folders as `user ls` and `user folders` print them. */
function foldersText (user: UserView, separator: string): string {
  if (user.folders == null) return 'all folders'
  return user.folders.length === 0 ? 'no folders' : user.folders.join(separator)
}

/** The `login`, `logout`, `user` and `token` commands of the `cidcast` program. */
export function accountCommands (defaultServer: string, store: CredentialStore, given: AccountCommandsIo = {}): Command[] {
  const io = (): Required<AccountCommandsIo> => ({ out: given.out ?? process.stdout, err: given.err ?? process.stderr, input: given.input ?? process.stdin })
  const serverOption = ['--server <url>', 'main server URL (env CIDCAST_SERVER)'] as const

  const login = new Command('login')
    .description('log in to a main server; the token is kept for later commands (0600, one per server)')
    .option(...serverOption, defaultServer)
    .option('--user <name>', 'user name (asked when not given)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (opts: { server: string, user?: string, passwordStdin?: boolean }) => {
      const user = opts.user ?? await ask('user: ', io(), false)
      const password = await passwordOf(opts, io())
      const session = await createApiClient(opts.server, { token: '' }).request<{ token: string, user: UserView }>('POST', '/api/v1/auth/login', { username: user, password })
      const path = await store.save(opts.server, { token: session.token, user: session.user.name, savedAt: new Date().toISOString() })
      io().out.write(`logged in to ${new URL(opts.server).origin} as ${session.user.name} (${session.user.role}); token saved in ${path}\n`)
    })

  const logout = new Command('logout')
    .description('end this CLI\'s session on a main server and forget its token')
    .option(...serverOption, defaultServer)
    .action(async (opts: { server: string }) => {
      await createApiClient(opts.server).request('POST', '/api/v1/auth/logout')
      await store.save(opts.server, undefined)
      io().out.write(`logged out of ${new URL(opts.server).origin}\n`)
    })

  const user = new Command('user')
    .description('manage the users of a main server (admins)')
    .option(...serverOption, defaultServer)
  const client = (): ApiClient => createApiClient(user.opts<{ server: string }>().server, { timeoutMs: 60_000 })
  user.command('add')
    .description('add a user (a viewer unless --admin); prints a random password unless --password-stdin gives one')
    .argument('<name>')
    .option('--admin', 'an admin: may add media, edit metadata, manage nodes, replication and users')
    .option('--folder <path>', 'limit a viewer to this library folder (an absolute path on the server), repeatable; default: every folder', collect)
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, opts: { admin?: boolean, folder?: string[], passwordStdin?: boolean }) => {
      if (opts.admin === true && opts.folder != null) throw new InvalidArgumentError('--folder limits viewers only: admins see every folder')
      const folders = opts.folder == null ? undefined : serverFolders(opts.folder)
      const password = opts.passwordStdin === true ? await passwordOf(opts, io()) : undefined
      const made = await client().request<UserView & { password?: string }>('POST', '/api/v1/users', { name, role: opts.admin === true ? 'admin' : 'viewer', password, folders })
      io().out.write(`added ${made.name} (${made.role}${made.folders == null ? '' : `, ${foldersText(made, ', ')}`})\n`)
      if (made.password != null) io().out.write(`password: ${made.password}\n`)
    })
  user.command('ls')
    .description('list users: name, role, folders, created')
    .action(async () => {
      const { items } = await client().request<{ items: UserView[] }>('GET', '/api/v1/users')
      for (const u of items) io().out.write(`${u.name}\t${u.role}\t${foldersText(u, ',')}\t${u.createdAt}\n`)
    })
  user.command('folders')
    .description('show a viewer\'s library folders, or set them: the paths given (absolute, on the server), or --all for every folder')
    .argument('<name>')
    .argument('[paths...]', 'the folders the viewer may see, replacing the list')
    .option('--all', 'no limit: the viewer sees every folder')
    .action(async (name: string, paths: string[], opts: { all?: boolean }) => {
      const path = `/api/v1/users/${encodeURIComponent(name)}`
      if (opts.all === true && paths.length > 0) throw new InvalidArgumentError('--all means every folder: give either --all or folders, not both')
      if (opts.all !== true && paths.length === 0) {
        const shown = await client().request<UserView>('GET', path)
        io().out.write(shown.folders == null || shown.folders.length === 0 ? `${foldersText(shown, '')}\n` : shown.folders.map(f => `${f}\n`).join(''))
        return
      }
      const changed = await client().request<UserView>('PATCH', path, { folders: opts.all === true ? null : serverFolders(paths) })
      io().out.write(`folders of ${changed.name}: ${foldersText(changed, ', ')}\n`)
    })
  user.command('rm')
    .description('remove a user with their sessions and tokens (the last admin stays)')
    .argument('<name>')
    .action(async (name: string) => {
      const gone = await client().request<UserView>('DELETE', `/api/v1/users/${encodeURIComponent(name)}`)
      io().out.write(`removed ${gone.name}\n`)
    })
  user.command('passwd')
    .description('set a user\'s password (random unless --password-stdin gives one); ends their sessions')
    .argument('<name>')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, opts: { passwordStdin?: boolean }) => {
      const password = opts.passwordStdin === true ? await passwordOf(opts, io()) : undefined
      const answer = await client().request<{ password?: string }>('PUT', `/api/v1/users/${encodeURIComponent(name)}/password`, { password })
      io().out.write(`password of ${name} changed; their sessions ended\n`)
      if (answer.password != null) io().out.write(`password: ${answer.password}\n`)
    })

  const token = new Command('token')
    .description('API tokens for scripts: named, shown once, revocable')
    .option(...serverOption, defaultServer)
  const tokens = (): ApiClient => createApiClient(token.opts<{ server: string }>().server, { timeoutMs: 60_000 })
  token.command('add')
    .description('make an API token of your account; prints it once')
    .argument('<name>')
    .action(async (name: string) => {
      const made = await tokens().request<TokenView & { token: string }>('POST', '/api/v1/tokens', { name })
      io().out.write(`added token ${made.id} (${made.name ?? ''})\ntoken: ${made.token}\n`)
    })
  token.command('ls')
    .description('list your tokens (--all: everyone\'s, admins): id, kind, name, created, last used')
    .option('--all', 'every user\'s tokens (admins)')
    .action(async (opts: { all?: boolean }) => {
      const { items } = await tokens().request<{ items: TokenView[] }>('GET', `/api/v1/tokens${opts.all === true ? '?all=1' : ''}`)
      for (const t of items) io().out.write(`${t.id}\t${t.kind}\t${t.name ?? '-'}\t${t.createdAt}\t${t.lastUsedAt ?? 'never used'}\n`)
    })
  token.command('rm')
    .description('revoke a token by its id (see token ls)')
    .argument('<id>')
    .action(async (id: string) => {
      await tokens().request('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`)
      io().out.write(`removed token ${id}\n`)
    })

  return [login, logout, user, token]
}
