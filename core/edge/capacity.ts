import { readdir, stat, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { megabytes } from '../disk-space.ts'
import { CHUNK_BYTES } from '../ipfs/index.ts'
import type { NodeCapacity } from '../control/index.ts'

/**
 * The space of a CDN node's data folder: `used` is what its blocks take, `quota` what it may take (set by the
 * owner, or by default everything the file system still has plus what is used), `free` what is left of the quota
 * and of the disk. A folder with less than the reserve left is `full`: it takes no new pins and caches nothing
 * more (less than one block's room left counts as full), so blocks are never half-written for lack of space.
 */

export interface CapacityInit {
  /** The folder whose blocks count (blockstore-fs's `blocks/`). */
  blocksDir: string
  /** A folder on the file system to measure (the data folder). */
  dataDir: string
  /** Most bytes the blocks may take. @default used + free space of the file system */
  quotaBytes?: number
  /** Free bytes kept back; less than this left means full. @default 67108864 */
  reserveBytes?: number
  /** A measurement younger than this is reused (kept current by `record`). @default 10000 */
  maxAgeMs?: number
}

export interface CapacityReport extends NodeCapacity {
  full: boolean
}

export interface Capacity {
  /** Measures (or reuses a recent measurement). */
  measure (): Promise<CapacityReport>
  /** The last measurement, or undefined before the first. */
  last (): CapacityReport | undefined
  /** Forgets the last measurement (after writing blocks of unknown size, e.g. a pin over bitswap). */
  invalidate (): void
  /** Counts `bytes` just written into the blocks without walking the folder again. */
  record (bytes: number): void
}

const DEFAULT_RESERVE_BYTES = 64 * 1024 * 1024

/** Creates the capacity meter of a data folder. */
export function createCapacity (init: CapacityInit): Capacity {
  const reserve = init.reserveBytes ?? DEFAULT_RESERVE_BYTES
  const maxAgeMs = init.maxAgeMs ?? 10_000
  let latest: { report: CapacityReport, at: number, diskFree: number } | undefined
  let pending: Promise<CapacityReport> | undefined

  function report (used: number, diskFree: number): CapacityReport {
    const quota = init.quotaBytes ?? used + diskFree
    const free = Math.max(0, Math.min(quota - used, diskFree - reserve))
    // full: not even one more block fits
    return { quotaBytes: quota, usedBytes: used, freeBytes: free, full: free < CHUNK_BYTES }
  }

  async function run (): Promise<CapacityReport> {
    const [used, fs] = await Promise.all([folderBytes(init.blocksDir), statfs(init.dataDir)])
    const diskFree = Number(fs.bavail) * Number(fs.bsize)
    latest = { report: report(used, diskFree), at: Date.now(), diskFree }
    return latest.report
  }

  return {
    async measure () {
      if (latest != null && Date.now() - latest.at < maxAgeMs) return latest.report
      pending ??= run().finally(() => { pending = undefined })
      return await pending
    },
    last () {
      return latest?.report
    },
    invalidate () {
      latest = undefined
    },
    record (bytes) {
      if (latest == null) return
      const diskFree = latest.diskFree - bytes
      latest = { report: report(latest.report.usedBytes + bytes, diskFree), at: latest.at, diskFree }
    }
  }
}

/** Why a full data folder is full, in a sentence for `/healthz` (`label` names the folder). */
export function fullReason (label: string, space: CapacityReport): string {
  return `the data folder ${label} is full: ${megabytes(space.freeBytes)} left (${megabytes(space.usedBytes)} of blocks used, quota ${megabytes(space.quotaBytes)}): new pins are refused and fetched content is served without being kept`
}

/** Bytes of the regular files below `dir` (0 when it does not exist yet). */
export async function folderBytes (dir: string): Promise<number> {
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
  let total = 0
  for (const entry of entries) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      total += await folderBytes(path)
    } else if (entry.isFile()) {
      // a block removed meanwhile just does not count
      total += await stat(path).then(s => s.size, () => 0)
    }
  }
  return total
}
