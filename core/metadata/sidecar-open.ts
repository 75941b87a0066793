import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'

/*
 * Sidecars (NFO files, local artwork) sit in folders anyone with write access to the library may fill. Opening a
 * FIFO for reading blocks until a writer comes, which may be never: the add that read it hung, holding one of
 * libuv's four file-system threads. O_NONBLOCK makes that open return at once (regular files ignore the flag);
 * callers then refuse anything that is not a regular file by its fstat.
 */

/** Opens `path` for reading without waiting on a FIFO's writer; check `stat().isFile()` before reading. */
export async function openSidecar (path: string): Promise<FileHandle> {
  return await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
}
