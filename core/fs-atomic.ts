import { randomBytes } from 'node:crypto'
import { open, rename, unlink } from 'node:fs/promises'

export interface WriteFileAtomicOptions {
  /** Permissions of a file this creates (before the umask), e.g. 0o600 for secrets. @default 0o666 */
  mode?: number
}

/**
 * Writes `data` to `path` through a temporary file beside it, flushed to disk and renamed into place, so a reader
 * or a crash sees the old file or the new one, never half of one. A crash may leave the temporary file
 * (`<path>.<pid>.<random>.tmp`); readers of `path` never look at it.
 */
export async function writeFileAtomic (path: string, data: string | Uint8Array, options: WriteFileAtomicOptions = {}): Promise<void> {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  const file = await open(temporary, 'wx', options.mode ?? 0o666)
  try {
    try {
      await file.writeFile(data)
      // without it a power cut after the rename can leave an empty file on some file systems
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(temporary, path)
  } catch (err) {
    await unlink(temporary).catch(() => {})
    throw err
  }
}
