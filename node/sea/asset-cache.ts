import { createHash, randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { isAbsolute, join } from 'node:path'

/*
 * Where the single executable puts what cannot be used from inside it: a native addon must be a file for
 * `process.dlopen`, and koa-static serves a folder. Each is named by its content's hash, written once through a
 * temporary name and renamed into place (a reader never sees half of one), and reused by later starts and by other
 * copies of the same build. Synchronous, unlike core/fs-atomic.ts: a native binding is loaded inside `require()`.
 */

/** The cache folder could not be made or is not safely ours. */
export class AssetCacheError extends Error {
  static readonly code = 'AssetCacheError'
  override readonly name = 'AssetCacheError'
}

/** The sha256 of `bytes`, in hex. */
export function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * The executable's cache folder, made if missing (mode 0700): `$XDG_CACHE_HOME/cidcast-node`, else
 * `~/.cache/cidcast-node`; where that cannot be made (a service user without a home), `$TMPDIR/cidcast-node-<uid>`,
 * refused unless it is this user's and writable by no one else.
 */
export function assetCacheDir (env: NodeJS.ProcessEnv = process.env): string {
  // the XDG base directory spec: a relative path is invalid and ignored
  const xdg = env.XDG_CACHE_HOME
  const preferred = join(xdg != null && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'cidcast-node')
  try {
    mkdirSync(preferred, { recursive: true, mode: 0o700 })
    return preferred
  } catch {}
  const uid = process.getuid?.() ?? 0
  const fallback = join(env.TMPDIR != null && isAbsolute(env.TMPDIR) ? env.TMPDIR : tmpdir(), `cidcast-node-${uid}`)
  try {
    mkdirSync(fallback, { mode: 0o700 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new AssetCacheError(`cannot make a cache folder: ${preferred} nor ${fallback} (${(err as Error).message}); set XDG_CACHE_HOME to a writable folder`)
  }
  // a shared temporary folder: someone else may have made it first, to plant files there
  const stat = lstatSync(fallback)
  if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o022) !== 0) {
    throw new AssetCacheError(`${fallback} is not a private folder of this user; set XDG_CACHE_HOME to a writable folder`)
  }
  return fallback
}

/** Writes `bytes` to `path` through a temporary file beside it, flushed, then renamed into place. */
function writeFileAtomicSync (path: string, bytes: Uint8Array, mode: number): void {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  const fd = openSync(temporary, 'wx', mode)
  try {
    try {
      for (let at = 0; at < bytes.byteLength;) at += writeSync(fd, bytes, at)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temporary, path)
  } catch (err) {
    rmSync(temporary, { force: true })
    throw err
  }
}

/**
 * The path of a file in `dir` holding `bytes` (whose sha256 is `sha256`), named `<stem>-<hash>.<ext>`: reused when one
 * is there with that content (checked: a damaged addon would crash the process), else written.
 */
export function cachedFile (dir: string, name: { stem: string, ext: string }, bytes: () => Uint8Array, sha256: string): string {
  const path = join(dir, `${name.stem}-${sha256.slice(0, 32)}.${name.ext}`)
  try {
    if (sha256Hex(readFileSync(path)) === sha256) return path
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const content = bytes()
  if (sha256Hex(content) !== sha256) throw new AssetCacheError(`the executable's ${name.stem} does not match its manifest: the file is damaged`)
  writeFileAtomicSync(path, content, 0o500)
  return path
}

/**
 * The path of a folder in `dir` named `<stem>-<hash>` holding `files` (relative path -> bytes): reused when present,
 * else written into a temporary folder and renamed into place whole. `hash` covers every file (the build made it).
 */
export function cachedFolder (dir: string, stem: string, hash: string, files: () => Iterable<[string, Uint8Array]>): string {
  const path = join(dir, `${stem}-${hash.slice(0, 32)}`)
  try {
    if (statSync(path).isDirectory()) return path
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    for (const [relative, bytes] of files()) {
      const file = join(temporary, relative)
      mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 })
      writeFileAtomicSync(file, bytes, 0o400)
    }
    renameSync(temporary, path)
  } catch (err) {
    rmSync(temporary, { recursive: true, force: true })
    // another start of the same build renamed its copy first: use it
    if (['EEXIST', 'ENOTEMPTY'].includes((err as NodeJS.ErrnoException).code ?? '') && statSync(path, { throwIfNoEntry: false })?.isDirectory() === true) return path
    throw err
  }
  return path
}
