import { execFile } from 'node:child_process'
import { open, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { tempDir } from './tmp.ts'

/*
 * A small file system of its own (tmpfs) that a test can fill to the last byte: the real ENOSPC of a full disk,
 * for the main server's or a node's data folder. Mounting needs root; the tests run as root here and in CI, and say
 * so plainly anywhere else instead of skipping.
 */

const run = promisify(execFile)
const FILLER = '.filler'
const BIG_WRITE_BYTES = 1024 * 1024
const SMALL_WRITE_BYTES = 4096

/** A mounted tmpfs: fill it, free it, and unmount it (and remove its folder). */
export interface Tmpfs {
  path: string
  /** Bytes the file system has free now. */
  free: () => Promise<number>
  /** Writes a filler file until the file system refuses more (ENOSPC), leaving `leaveBytes` free (rounded to pages). */
  fill: (leaveBytes?: number) => Promise<void>
  /** Deletes the filler file. */
  unfill: () => Promise<void>
  unmount: () => Promise<void>
}

/** Throws a clear error unless the process runs as root (mounting a tmpfs needs it). */
export function requireRoot (what: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${what} mounts a tmpfs to fill a real disk and must run as root (they do in CI): run the tests as root`)
}

/** Mounts a tmpfs of `sizeBytes` on a fresh temporary folder. */
export async function mountTmpfs (sizeBytes: number): Promise<Tmpfs> {
  requireRoot('this test')
  const dir = await tempDir('cidcast-tmpfs-')
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir.path])
  } catch (err) {
    await dir.remove()
    throw err
  }
  const filler = join(dir.path, FILLER)
  const free = async (): Promise<number> => {
    const fs = await statfs(dir.path)
    return Number(fs.bavail) * Number(fs.bsize)
  }
  let mounted = true
  return {
    path: dir.path,
    free,
    async fill (leaveBytes = 0) {
      const file = await open(filler, 'a')
      const zeros = Buffer.alloc(BIG_WRITE_BYTES)
      try {
        for (let left = await free(); left > leaveBytes; left = await free()) {
          // the last writes are a page at a time, so a full disk is full to its last page
          const size = Math.min(BIG_WRITE_BYTES, Math.max(SMALL_WRITE_BYTES, left - leaveBytes))
          await file.write(zeros, 0, size)
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
      } finally {
        await file.close()
      }
    },
    async unfill () {
      await rm(filler, { force: true })
    },
    async unmount () {
      if (!mounted) return
      mounted = false
      try {
        await run('umount', ['-l', dir.path])
      } finally {
        await dir.remove()
      }
    }
  }
}
