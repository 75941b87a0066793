import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { systemClock } from '../clock.ts'
import type { CapacityReport } from './capacity.ts'
import type { MediaCache } from './media-cache.ts'
import type { Clock } from '../clock.ts'
import type { Logger } from '../logger.ts'
import type { Pins } from '@helia/interface'
import type { Datastore } from 'interface-datastore'
import type { Counter } from 'prom-client'

/*
 * The CDN node's cache of what it kept from fallback answers (a miss fetched from the origin or from peers, a
 * segment read ahead of a viewer), so that a busy node gives room back instead of filling its disk. Every file is
 * indexed with its blocks and their bytes, when it was kept, its last hit and a decayed hit frequency; the index
 * lives in the node's datastore, so it survives restarts. Past the budget the lowest-value files go first, GDSF
 * style: value = inflation + decayed frequency / size in MiB, where the inflation is the value of the last file
 * evicted (files not hit for a while fall behind newer ones). Never a file with a pinned block (the pin holds it:
 * it leaves the index, its blocks stay), never one kept less than the minimum lifetime ago unless the disk itself
 * is full. Deleting a file removes the blocks no other kept file uses (and no pin holds) and its media-cache record.
 */

/** A file kept from a fallback answer. */
export interface KeptFile {
  /** What the index calls it: the file's CID for `/media`, the request path for `/ipfs`. */
  key: string
  /** Every block kept for it (the root included) and its bytes. */
  blocks: Array<{ cid: CID, bytes: number }>
  /** The `/media` file it is, whose media-cache record goes with it. */
  media?: { id: string, profile: string, file: string }
  /** Fetched ahead of a viewer (read-ahead), not asked for yet. */
  readAhead?: boolean
  /** Pre-cached for a viewer likely to come (the next episode): worth less than anything asked for, until hit. */
  prefetch?: boolean
}

/** A file of the index as it stands (for `/healthz`-style views and tests). */
export interface CachedFile {
  key: string
  bytes: number
  keptAt: number
  lastHit: number
  /** Hits decayed to `lastHit` (1 when kept). */
  frequency: number
  /** GDSF value: the lowest goes first. */
  value: number
  readAhead: boolean
}

/** The counters the cache moves (the node's metrics). */
export interface EdgeCacheMetrics {
  hits: Pick<Counter, 'inc'>
  evictions: Pick<Counter, 'inc'>
  evictedBytes: Pick<Counter, 'inc'>
  readAheadBytes: Pick<Counter, 'inc'>
  readAheadHits: Pick<Counter, 'inc'>
  /** Pre-cached bytes, their first hits, and bytes evicted without ever being hit (waste). */
  prefetchBytes?: Pick<Counter, 'inc'>
  prefetchHits?: Pick<Counter, 'inc'>
  prefetchWastedBytes?: Pick<Counter, 'inc'>
}

export interface EdgeCacheComponents {
  datastore: Pick<Datastore, 'query' | 'put' | 'delete' | 'get' | 'has'>
  pins: Pick<Pins, 'isPinned'>
  /** Deletes one local block unless a pin holds it (pin-collect.ts `localRemover`). */
  remove: (cid: CID) => Promise<void>
  capacity: { measure: () => Promise<CapacityReport>, last: () => CapacityReport | undefined, record: (bytes: number) => void }
  media?: Pick<MediaCache, 'forgetFile'>
  logger: Logger
  clock?: Pick<Clock, 'now'>
  metrics?: EdgeCacheMetrics
  /** Bytes of the budget automatic pins hold (auto-pins.ts); kept files get the rest. */
  reserved?: () => number
}

export interface EdgeCacheInit {
  /** Most bytes of kept files; always within the quota. @default `share` of the quota */
  budgetBytes?: number
  /** The quota's share the budget is when `budgetBytes` is not set. @default 0.5 */
  share?: number
  /** A file kept less than this long ago is not evicted unless the disk is full. @default 3600000 */
  minLifetimeMs?: number
  /** Half-life of a file's hit frequency. @default 21600000 (6 h) */
  halfLifeMs?: number
  /** Hits are written to the datastore at most this often (keeps and evictions at once). @default 5000 */
  flushMs?: number
}

export interface EdgeCache {
  /** Loads the index from the datastore. */
  start (): Promise<void>
  /** Writes pending hits. */
  stop (): Promise<void>
  /**
   * Makes room for `bytes` more, evicting the lowest-value files that may go; false when the cache cannot take them
   * (full of young or pinned content, or the disk is full): the caller serves them without keeping them.
   */
  admit (bytes: number): Promise<boolean>
  /** Indexes a file just kept, then trims the cache to its budget. */
  add (file: KeptFile): Promise<void>
  /** A request served `key` from local blocks; true when it was read ahead and this is its first hit. */
  hit (key: string): boolean
  /** The budget (from the quota of `space`, or the last measurement) and the bytes kept now. */
  figures (space?: Pick<CapacityReport, 'quotaBytes'>): { cacheBytes: number, cacheUsedBytes: number }
  /** The files of the index, lowest value first. */
  files (): CachedFile[]
}

/** The quota's share the cache takes when no budget is set. */
export const DEFAULT_CACHE_SHARE = 0.5
const MIB = 1024 * 1024
const FILE_PREFIX = '/cidcast/edge-cache/files/'
const CLOCK_KEY = new Key('/cidcast/edge-cache/inflation')

interface Entry {
  key: string
  blocks: Array<[string, number]>
  bytes: number
  media?: KeptFile['media']
  keptAt: number
  lastHit: number
  frequency: number
  value: number
  readAhead: boolean
  /** Pre-cached and not hit yet. */
  prefetch?: boolean
}

/** Creates the node's fallback cache over its datastore and blockstore. */
export function createEdgeCache (components: EdgeCacheComponents, init: EdgeCacheInit = {}): EdgeCache {
  return new GdsfCache(components, init)
}

class GdsfCache implements EdgeCache {
  private readonly log: Logger
  private readonly clock: Pick<Clock, 'now'>
  private readonly share: number
  private readonly minLifetimeMs: number
  private readonly halfLifeMs: number
  private readonly flushMs: number
  private readonly entries = new Map<string, Entry>()
  /** Kept files per block (by CID string): a block goes only with the last file that uses it. */
  private readonly users = new Map<string, number>()
  private usedBytes = 0
  private inflation = 0
  /** Evictions run one at a time. */
  private trimming: Promise<unknown> = Promise.resolve()
  private readonly dirty = new Set<string>()
  private flushTimer: ReturnType<typeof setTimeout> | undefined

  constructor (private readonly c: EdgeCacheComponents, private readonly init: EdgeCacheInit) {
    this.log = c.logger.child({ name: 'cidcast:edge-cache' })
    this.clock = c.clock ?? systemClock
    this.share = init.share ?? DEFAULT_CACHE_SHARE
    this.minLifetimeMs = init.minLifetimeMs ?? 3_600_000
    this.halfLifeMs = init.halfLifeMs ?? 6 * 3_600_000
    this.flushMs = init.flushMs ?? 5000
  }

  async start (): Promise<void> {
    const stored = await Promise.resolve().then(async () => await this.c.datastore.get(CLOCK_KEY)).catch(() => undefined)
    if (stored != null) this.inflation = Number(new TextDecoder().decode(stored)) || 0
    for await (const { key, value } of this.c.datastore.query({ prefix: FILE_PREFIX })) {
      try {
        this.track(JSON.parse(new TextDecoder().decode(value)) as Entry)
      } catch (err) {
        // a damaged record costs one file kept until an unpin or the scrub finds its blocks: not worth stopping for
        this.log.warn({ err, key: key.toString() }, 'a cache record is damaged; forgetting it')
        await this.c.datastore.delete(key)
      }
    }
    this.log.debug({ files: this.entries.size, bytes: this.usedBytes }, 'cache index loaded')
  }

  async stop (): Promise<void> {
    if (this.flushTimer != null) clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    await this.trimming
    await this.flush()
  }

  async admit (bytes: number): Promise<boolean> {
    return await this.serially(async () => {
      let space = await this.c.capacity.measure()
      const budget = this.keptBudget(space.quotaBytes)
      if (bytes > budget) return false
      if (this.usedBytes + bytes <= budget && !space.full) return true
      space = await this.trim(budget - bytes, space.full)
      return this.usedBytes + bytes <= budget && !space.full
    })
  }

  async add (file: KeptFile): Promise<void> {
    const now = this.clock.now()
    const existing = this.entries.get(file.key)
    if (existing != null) {
      // kept again (blocks that were missing, or a wider CAR for the same `/ipfs` path): one file, more blocks
      const known = new Set(existing.blocks.map(([cid]) => cid))
      const added = file.blocks.filter(b => !known.has(b.cid.toString())).map((b): [string, number] => [b.cid.toString(), b.bytes])
      if (added.length === 0) return
      this.untrack(existing)
      existing.blocks.push(...added)
      this.track(existing)
      existing.value = this.valueOf(existing)
      await this.save(existing)
      return
    }
    const entry: Entry = {
      key: file.key,
      blocks: file.blocks.map(b => [b.cid.toString(), b.bytes]),
      bytes: 0,
      media: file.media,
      keptAt: now,
      lastHit: now,
      // a guess is worth half a hit: pre-cached content goes first under pressure
      frequency: file.prefetch === true ? 0.5 : 1,
      value: 0,
      readAhead: file.readAhead === true,
      ...(file.prefetch === true ? { prefetch: true } : {})
    }
    this.track(entry)
    entry.value = this.valueOf(entry)
    if (entry.readAhead) this.c.metrics?.readAheadBytes.inc(entry.bytes)
    if (entry.prefetch === true) this.c.metrics?.prefetchBytes?.inc(entry.bytes)
    await this.save(entry)
    await this.serially(async () => {
      const space = await this.c.capacity.measure()
      const budget = this.keptBudget(space.quotaBytes)
      if (this.usedBytes > budget || space.full) await this.trim(budget, space.full)
    })
  }

  hit (key: string): boolean {
    const entry = this.entries.get(key)
    if (entry == null) return false
    const now = this.clock.now()
    entry.frequency = this.decayed(entry, now) + 1
    entry.lastHit = now
    entry.value = this.valueOf(entry)
    this.c.metrics?.hits.inc()
    if (entry.prefetch === true) {
      delete entry.prefetch
      this.c.metrics?.prefetchHits?.inc()
    }
    const firstOfReadAhead = entry.readAhead
    if (firstOfReadAhead) {
      entry.readAhead = false
      this.c.metrics?.readAheadHits.inc()
    }
    this.dirty.add(key)
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined
      this.flush().catch(err => { this.log.warn({ err }, 'cannot write cache hits') })
    }, this.flushMs).unref()
    return firstOfReadAhead
  }

  figures (space?: Pick<CapacityReport, 'quotaBytes'>): { cacheBytes: number, cacheUsedBytes: number } {
    const quota = space?.quotaBytes ?? this.c.capacity.last()?.quotaBytes
    return { cacheBytes: quota == null ? (this.init.budgetBytes ?? 0) : this.budget(quota), cacheUsedBytes: this.usedBytes + (this.c.reserved?.() ?? 0) }
  }

  files (): CachedFile[] {
    return [...this.entries.values()]
      .sort((a, b) => a.value - b.value)
      .map(e => ({ key: e.key, bytes: e.bytes, keptAt: e.keptAt, lastHit: e.lastHit, frequency: e.frequency, value: e.value, readAhead: e.readAhead }))
  }

  /** The budget less what the distributor's automatic pins hold: the room of kept files. */
  private keptBudget (quotaBytes: number): number {
    return Math.max(0, this.budget(quotaBytes) - (this.c.reserved?.() ?? 0))
  }

  private budget (quotaBytes: number): number {
    return Math.min(this.init.budgetBytes ?? Math.floor(quotaBytes * this.share), quotaBytes)
  }

  private decayed (entry: Entry, now: number): number {
    return entry.frequency * 2 ** (-Math.max(0, now - entry.lastHit) / this.halfLifeMs)
  }

  private valueOf (entry: Entry): number {
    return this.inflation + entry.frequency / Math.max(entry.bytes / MIB, 1 / 1024)
  }

  /** Adds an entry to the maps and counts its blocks not counted yet. */
  private track (entry: Entry): void {
    let bytes = 0
    for (const [cid, size] of entry.blocks) {
      const users = this.users.get(cid) ?? 0
      if (users === 0) this.usedBytes += size
      this.users.set(cid, users + 1)
      bytes += size
    }
    entry.bytes = bytes
    this.entries.set(entry.key, entry)
  }

  /** Takes an entry out of the maps; the blocks no other entry uses, with their bytes. */
  private untrack (entry: Entry): Array<[string, number]> {
    this.entries.delete(entry.key)
    this.dirty.delete(entry.key)
    const orphans: Array<[string, number]> = []
    for (const [cid, size] of entry.blocks) {
      const users = (this.users.get(cid) ?? 1) - 1
      if (users > 0) {
        this.users.set(cid, users)
        continue
      }
      this.users.delete(cid)
      this.usedBytes -= size
      orphans.push([cid, size])
    }
    return orphans
  }

  /**
   * Evicts the lowest-value files until at most `target` bytes are kept (and, when the disk is full, until it is
   * not): files with a pinned block leave the index without losing a block; young files stay unless the disk is full.
   */
  private async trim (target: number, diskFull: boolean): Promise<CapacityReport> {
    let space = await this.c.capacity.measure()
    const now = this.clock.now()
    for (const entry of [...this.entries.values()].sort((a, b) => a.value - b.value)) {
      if (this.usedBytes <= target && !space.full) break
      if (this.entries.get(entry.key) !== entry) continue
      if (await this.pinned(entry)) {
        this.untrack(entry)
        await this.c.datastore.delete(fileKey(entry.key))
        this.log.debug({ key: entry.key }, 'a kept file is pinned now: the pin holds it')
        continue
      }
      if (!diskFull && now - entry.keptAt < this.minLifetimeMs) continue
      await this.evict(entry)
      space = await this.c.capacity.measure()
    }
    return space
  }

  private async pinned (entry: Entry): Promise<boolean> {
    for (const [cid] of entry.blocks) if (await this.c.pins.isPinned(CID.parse(cid))) return true
    return false
  }

  private async evict (entry: Entry): Promise<void> {
    const orphans = this.untrack(entry)
    // the record goes first: a crash half way leaves blocks nobody indexes (kept, as before this cache), never a
    // record of blocks that are gone
    await this.c.datastore.delete(fileKey(entry.key))
    let freed = 0
    for (const [text, size] of orphans) {
      const cid = CID.parse(text)
      if (await this.c.pins.isPinned(cid)) continue
      await this.c.remove(cid)
      freed += size
    }
    if (entry.media != null) await this.c.media?.forgetFile(entry.media.id, entry.media.profile, entry.media.file)
    this.c.capacity.record(-freed)
    // GDSF's clock: what comes in later starts at the value of what just went
    this.inflation = Math.max(this.inflation, entry.value)
    await this.c.datastore.put(CLOCK_KEY, new TextEncoder().encode(String(this.inflation)))
    this.c.metrics?.evictions.inc()
    this.c.metrics?.evictedBytes.inc(freed)
    if (entry.prefetch === true) this.c.metrics?.prefetchWastedBytes?.inc(entry.bytes)
    this.log.debug({ key: entry.key, bytes: entry.bytes, freed, value: entry.value }, 'evicted a kept file')
  }

  private async save (entry: Entry): Promise<void> {
    await this.c.datastore.put(fileKey(entry.key), new TextEncoder().encode(JSON.stringify(entry)))
  }

  private async flush (): Promise<void> {
    for (const key of [...this.dirty]) {
      this.dirty.delete(key)
      const entry = this.entries.get(key)
      if (entry != null) await this.save(entry)
    }
  }

  private async serially<T> (work: () => Promise<T>): Promise<T> {
    const run = this.trimming.then(work, work)
    this.trimming = run.catch(() => {})
    return await run
  }
}

/** The datastore key of a file: its index key, base64url so a path never makes a key of more levels. */
function fileKey (key: string): Key {
  return new Key(FILE_PREFIX + Buffer.from(key).toString('base64url'))
}
