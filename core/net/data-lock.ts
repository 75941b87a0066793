import { randomBytes } from 'node:crypto'
import { constants, copyFile, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { DataFolderLockedError } from '../errors.ts'

/**
 * One daemon per data folder: a lock file, created atomically (link(2) fails when it exists), holds the
 * owner's pid. A lock left by a process that no longer exists (a crash, a kill -9) is taken over at once,
 * so a restarted daemon does not wait for a timeout. Chosen over proper-lockfile, whose mtime heartbeat
 * declares the lock compromised (and throws) when the event loop stalls, and which keeps a crashed
 * daemon's lock until it goes stale.
 */

/** The lock file inside the data folder. */
export const LOCK_FILE = 'cidcast.lock'
/** A takeover file older than this was left by a process that died while removing a stale lock. */
const TAKEOVER_STALE_MS = 10_000

interface LockRecord {
  pid: number
  hostname: string
  token: string
}

/** Tokens of the locks this process holds, to tell our own live lock from a dead process that had our pid. */
const held = new Set<string>()

/** Locks `dir` for this process; resolves with the release function, or throws DataFolderLockedError. */
export async function lockDataFolder (dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true })
  const path = join(dir, LOCK_FILE)
  const record: LockRecord = { pid: process.pid, hostname: hostname(), token: randomBytes(16).toString('hex') }
  const text = `${JSON.stringify(record)}\n`

  // written whole to a file of our own first, then linked into place (link fails if the lock exists), so
  // nobody ever reads a half-written lock
  const draft = `${path}.${record.token}`
  await writeFile(draft, text, { flag: 'wx', mode: 0o644 })
  // counted as held before it is claimed, so that another call in this process never sees it as a dead one
  held.add(record.token)
  let claimed = false
  try {
    // later rounds follow the removal of a stale lock
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await claim(draft, path)) {
        claimed = true
        return releaser(path, record.token)
      }
      const owner = await readLock(path)
      if (owner === undefined) continue // released meanwhile
      if (owner != null && isAlive(owner)) {
        throw new DataFolderLockedError(`the data folder ${dir} is in use by process ${owner.pid} on ${owner.hostname} (lock file ${path})`)
      }
      await removeStale(path, owner, dir, draft)
    }
  } finally {
    if (!claimed) held.delete(record.token)
    await unlink(draft).catch(() => {})
  }
  throw new DataFolderLockedError(`the data folder ${dir} is being locked by another process (lock file ${path})`)
}

async function claim (draft: string, path: string): Promise<boolean> {
  try {
    await link(draft, path)
    return true
  } catch (err: any) {
    if (err?.code === 'EEXIST') return false
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(err?.code)) throw err
  }
  // a file system without hard links: an exclusive copy is still atomic about who wins
  try {
    await copyFile(draft, path, constants.COPYFILE_EXCL)
    return true
  } catch (err: any) {
    if (err?.code === 'EEXIST') return false
    throw err
  }
}

function releaser (path: string, token: string): () => Promise<void> {
  return async () => {
    if (!held.delete(token)) return
    const owner = await readLock(path)
    if (owner?.token !== token) return // not ours any more: leave it
    await unlink(path).catch((err: any) => { if (err?.code !== 'ENOENT') throw err })
  }
}

/** The lock's record; null when it is not one (a damaged file); undefined when the file is gone. */
async function readLock (path: string): Promise<LockRecord | null | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    if (err?.code === 'ENOENT') return undefined
    throw err
  }
  try {
    const value = JSON.parse(text)
    if (Number.isInteger(value?.pid) && typeof value?.hostname === 'string' && typeof value?.token === 'string') return value
  } catch {}
  return null
}

function isAlive (owner: LockRecord): boolean {
  // a pid means nothing on another machine (a shared folder): assume that owner is alive
  if (owner.hostname !== hostname()) return true
  if (owner.pid === process.pid) return held.has(owner.token)
  try {
    process.kill(owner.pid, 0)
    return true
  } catch (err: any) {
    // EPERM: the process exists but belongs to someone else
    return err?.code !== 'ESRCH'
  }
}

/**
 * Removes a stale lock without removing a fresh one: only the holder of a short-lived takeover file may
 * delete the lock, and only after checking it is still the file judged stale (a new lock cannot appear
 * while the old file exists). Throws DataFolderLockedError while someone else is taking over.
 */
async function removeStale (path: string, stale: LockRecord | null, dir: string, draft: string): Promise<void> {
  const takeover = `${path}.takeover`
  if (!await claim(draft, takeover)) {
    // left behind by a process that died in the few milliseconds it holds it
    const since = await stat(takeover).then(info => Date.now() - info.mtimeMs, () => 0)
    if (since > TAKEOVER_STALE_MS) {
      await unlink(takeover).catch(() => {})
      return
    }
    throw new DataFolderLockedError(`the data folder ${dir} is being locked by another process (lock file ${path})`)
  }
  try {
    const current = await readLock(path)
    if (current === undefined) return
    const same = stale == null ? current == null : current?.token === stale.token
    if (same) await unlink(path)
  } finally {
    await unlink(takeover).catch(() => {})
  }
}
