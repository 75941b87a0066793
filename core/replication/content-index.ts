import { EventEmitter } from 'node:events'
import { MAX_PINNED } from '../control/index.ts'
import type { ContentIndexRepository, IndexEntry, PinAction } from '../catalog/index.ts'
import type { PinReport } from '../control/index.ts'

/*
 * The content index (issue #4): for each (node, root CID), where it stands, from what the node reported and never
 * assumed. The main server writes a wish (`wanted`: pin or unpin) and the order it sent for it; every state after
 * `queued` comes from a node's heartbeat: its reports on our orders, and its list of pinned roots (which also
 * reveals roots it holds without an order of ours, and roots it lost). Rows are kept in memory (provider look-ups
 * and heartbeats read them on every call) and written through to the catalog, so they survive restarts; a node
 * that goes offline keeps its rows.
 */

export type { IndexEntry, PinAction, PinState } from '../catalog/index.ts'

/** A new order to record for (peer, cid). */
export interface OrderInput {
  peerId: string
  cid: string
  action: PinAction
  orderId: string
  mediaId?: string | null
  profile?: string | null
  blocksTotal?: number | null
  bytesTotal?: number | null
  /** A retry of the same wish: attempts go up and the last error stays (to say why it is retried). */
  retry?: boolean
  /** Placed by the distributor on its own. @default false, or what the row was for a retry or an unpin */
  auto?: boolean
}

export interface ContentIndex {
  /** Loads the rows from the catalog. */
  start (): Promise<void>
  get (peerId: string, cid: string): IndexEntry | undefined
  /** Rows of a node, of a root, or all; by node then root. */
  list (filter?: { peerId?: string, cid?: string }): IndexEntry[]
  /** Records an order sent (state `queued`, or `unpinning` for an unpin). */
  order (input: OrderInput): Promise<IndexEntry>
  /** Takes a root the node holds into our wishes without an order (it already is what we want). */
  adopt (peerId: string, cid: string, fields: { mediaId?: string | null, profile?: string | null }): Promise<IndexEntry | undefined>
  /** Applies one heartbeat: reports on orders, and the node's pinned roots (when it sent them). Returns rows that changed. */
  report (peerId: string, pins: readonly PinReport[], pinned: readonly string[] | undefined): Promise<IndexEntry[]>
  /** A pin someone asked for where the distributor had placed one: the row is no longer the distributor's to evict. */
  claim (peerId: string, cid: string): Promise<void>
  /** Plans (or clears, with null) the automatic retry of a failed pin. */
  planRetry (peerId: string, cid: string, atMs: number | null): Promise<void>
  /** Drops a row (a node forgotten for good). */
  remove (peerId: string, cid: string): Promise<void>
  /** `change`: rows changed (argument: the rows; a removed row comes with `removed: true`). */
  on (event: 'change', listener: (entries: Array<IndexEntry & { removed?: boolean }>) => void): void
  off (event: 'change', listener: (entries: Array<IndexEntry & { removed?: boolean }>) => void): void
}

export interface ContentIndexComponents {
  /** The index's rows in the catalog. */
  repository: Pick<ContentIndexRepository, 'all' | 'save'>
}

/** Creates the index on the catalog's `content_index` table. */
export function createContentIndex (components: ContentIndexComponents): ContentIndex {
  return new CatalogContentIndex(components)
}

const REPORT_STATES_FOR: Record<PinAction, ReadonlySet<string>> = {
  pin: new Set(['queued', 'pinning', 'pinned', 'failed']),
  unpin: new Set(['queued', 'unpinning', 'unpinned', 'failed'])
}

function key (peerId: string, cid: string): string {
  return `${peerId} ${cid}`
}

class CatalogContentIndex implements ContentIndex {
  private readonly entries = new Map<string, IndexEntry>()
  private readonly events = new EventEmitter()
  private queue: Promise<unknown> = Promise.resolve()

  constructor (private readonly components: ContentIndexComponents) {}

  async start (): Promise<void> {
    const entries = await this.components.repository.all()
    this.entries.clear()
    for (const entry of entries) this.entries.set(key(entry.peerId, entry.cid), entry)
  }

  get (peerId: string, cid: string): IndexEntry | undefined {
    const entry = this.entries.get(key(peerId, cid))
    return entry == null ? undefined : copy(entry)
  }

  list (filter: { peerId?: string, cid?: string } = {}): IndexEntry[] {
    return [...this.entries.values()]
      .filter(e => (filter.peerId == null || e.peerId === filter.peerId) && (filter.cid == null || e.cid === filter.cid))
      .sort((a, b) => a.peerId.localeCompare(b.peerId) || a.cid.localeCompare(b.cid))
      .map(copy)
  }

  async order (input: OrderInput): Promise<IndexEntry> {
    return await this.exclusive(async () => {
      const now = Date.now()
      const existing = this.entries.get(key(input.peerId, input.cid))
      const sameWish = existing?.wanted === input.action
      const entry: IndexEntry = {
        peerId: input.peerId,
        cid: input.cid,
        state: input.action === 'pin' ? 'queued' : 'unpinning',
        wanted: input.action,
        orderId: input.orderId,
        mediaId: input.mediaId ?? existing?.mediaId ?? null,
        profile: input.profile ?? existing?.profile ?? null,
        auto: input.auto ?? (input.retry === true || input.action === 'unpin' ? (existing?.auto ?? false) : false),
        // an unpin keeps what was there until the node confirms; a new pin starts from nothing reported
        blocksDone: input.action === 'unpin' ? (existing?.blocksDone ?? 0) : 0,
        bytesDone: input.action === 'unpin' ? (existing?.bytesDone ?? 0) : 0,
        blocksTotal: input.blocksTotal ?? existing?.blocksTotal ?? null,
        bytesTotal: input.bytesTotal ?? existing?.bytesTotal ?? null,
        error: input.retry === true ? (existing?.error ?? null) : null,
        attempts: input.retry === true && sameWish ? (existing?.attempts ?? 0) + 1 : 1,
        retryAtMs: null,
        orderedAtMs: now,
        reportedAtMs: null,
        progressAtMs: null,
        createdAtMs: existing?.createdAtMs ?? now,
        updatedAtMs: now
      }
      await this.save([entry], [])
      return copy(entry)
    })
  }

  async claim (peerId: string, cid: string): Promise<void> {
    await this.exclusive(async () => {
      const existing = this.entries.get(key(peerId, cid))
      if (existing == null || !existing.auto) return
      await this.save([{ ...existing, auto: false, updatedAtMs: Date.now() }], [])
    })
  }

  async adopt (peerId: string, cid: string, fields: { mediaId?: string | null, profile?: string | null }): Promise<IndexEntry | undefined> {
    return await this.exclusive(async () => {
      const existing = this.entries.get(key(peerId, cid))
      if (existing == null || existing.state !== 'pinned') return undefined
      const entry = { ...existing, wanted: 'pin' as const, mediaId: fields.mediaId ?? existing.mediaId, profile: fields.profile ?? existing.profile, updatedAtMs: Date.now() }
      await this.save([entry], [])
      return copy(entry)
    })
  }

  async report (peerId: string, pins: readonly PinReport[], pinned: readonly string[] | undefined): Promise<IndexEntry[]> {
    return await this.exclusive(async () => {
      const now = Date.now()
      const changed = new Map<string, IndexEntry>()
      const removed = new Map<string, IndexEntry>()
      const reportedPinned = new Set<string>()
      for (const report of pins) {
        const current = changed.get(key(peerId, report.cid)) ?? this.entries.get(key(peerId, report.cid))
        // a report on an order that is not the current one (superseded, or from before a restart of ours) says nothing
        if (current == null || current.orderId !== report.orderId || current.wanted == null) continue
        if (!REPORT_STATES_FOR[current.wanted].has(report.state)) continue
        if (report.state === 'unpinned') {
          removed.set(key(peerId, report.cid), current)
          changed.delete(key(peerId, report.cid))
          continue
        }
        if (report.state === 'pinned') reportedPinned.add(report.cid)
        const next = applyReport(current, report, now)
        changed.set(key(peerId, report.cid), next)
      }
      // the pinned list is cut at MAX_PINNED: a root missing from a full list may just not fit
      if (pinned != null && pinned.length < MAX_PINNED) {
        const held = new Set(pinned)
        for (const cid of held) {
          const k = key(peerId, cid)
          if (removed.has(k)) continue
          const current = changed.get(k) ?? this.entries.get(k)
          if (current == null) {
            changed.set(k, discovered(peerId, cid, now))
          } else if (current.state === 'failed' && current.wanted === 'pin') {
            // it failed once, but the node holds it now (a later attempt of its own, or a pin made on the node)
            changed.set(k, { ...current, state: 'pinned', error: null, retryAtMs: null, reportedAtMs: now, updatedAtMs: now })
          } else if (current.state === 'pinned' && current.reportedAtMs !== now) {
            // only the time moves: kept in memory, written with the next real change
            current.reportedAtMs = now
          }
        }
        for (const current of this.entries.values()) {
          if (current.peerId !== peerId || current.state !== 'pinned' || held.has(current.cid) || reportedPinned.has(current.cid)) continue
          const k = key(peerId, current.cid)
          if (changed.has(k)) continue
          if (current.wanted == null) {
            removed.set(k, current)
          } else if (current.wanted === 'pin') {
            changed.set(k, { ...current, state: 'failed', error: { name: 'PinLostError', message: 'the node no longer lists this root among its pins' }, reportedAtMs: now, updatedAtMs: now })
          }
        }
      }
      await this.save([...changed.values()], [...removed.values()])
      return [...changed.values()].map(copy)
    })
  }

  async planRetry (peerId: string, cid: string, atMs: number | null): Promise<void> {
    await this.exclusive(async () => {
      const current = this.entries.get(key(peerId, cid))
      if (current == null || current.retryAtMs === atMs) return
      await this.save([{ ...current, retryAtMs: atMs, updatedAtMs: Date.now() }], [])
    })
  }

  async remove (peerId: string, cid: string): Promise<void> {
    await this.exclusive(async () => {
      const current = this.entries.get(key(peerId, cid))
      if (current != null) await this.save([], [current])
    })
  }

  on (event: 'change', listener: (entries: Array<IndexEntry & { removed?: boolean }>) => void): void {
    this.events.on(event, listener)
  }

  off (event: 'change', listener: (entries: Array<IndexEntry & { removed?: boolean }>) => void): void {
    this.events.off(event, listener)
  }

  /** Writes rows and deletions in one transaction, then updates memory and tells listeners. */
  private async save (puts: IndexEntry[], removals: IndexEntry[]): Promise<void> {
    if (puts.length === 0 && removals.length === 0) return
    await this.components.repository.save(puts, removals)
    for (const entry of puts) this.entries.set(key(entry.peerId, entry.cid), entry)
    for (const entry of removals) this.entries.delete(key(entry.peerId, entry.cid))
    this.events.emit('change', [...puts.map(copy), ...removals.map(e => ({ ...copy(e), removed: true }))])
  }

  private async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn)
    this.queue = run.catch(() => {})
    return await run
  }
}

function applyReport (current: IndexEntry, report: PinReport, now: number): IndexEntry {
  const moved = report.blocksDone !== current.blocksDone || report.bytesDone !== current.bytesDone
  const next: IndexEntry = {
    ...current,
    blocksDone: report.blocksDone,
    bytesDone: report.bytesDone,
    blocksTotal: report.blocksTotal ?? current.blocksTotal,
    bytesTotal: report.bytesTotal ?? current.bytesTotal,
    reportedAtMs: now,
    progressAtMs: moved || current.progressAtMs == null ? now : current.progressAtMs,
    updatedAtMs: now
  }
  switch (report.state) {
    case 'queued':
      next.state = current.wanted === 'pin' ? 'queued' : 'unpinning'
      next.error = report.error ?? current.error
      break
    case 'pinning':
      next.state = 'pinning'
      next.error = report.error ?? null
      break
    case 'pinned':
      next.state = 'pinned'
      next.error = null
      next.retryAtMs = null
      if (next.blocksTotal != null) next.blocksDone = Math.max(next.blocksDone, next.blocksTotal)
      if (next.bytesTotal != null) next.bytesDone = Math.max(next.bytesDone, next.bytesTotal)
      break
    case 'unpinning':
      next.state = 'unpinning'
      next.error = report.error ?? null
      break
    case 'failed':
      next.state = 'failed'
      next.error = report.error ?? { name: 'PinFailedError', message: 'the node reported a failure without a reason' }
      break
  }
  return next
}

function discovered (peerId: string, cid: string, now: number): IndexEntry {
  return {
    peerId,
    cid,
    state: 'pinned',
    wanted: null,
    orderId: null,
    mediaId: null,
    profile: null,
    auto: false,
    blocksDone: 0,
    bytesDone: 0,
    blocksTotal: null,
    bytesTotal: null,
    error: null,
    attempts: 0,
    retryAtMs: null,
    orderedAtMs: null,
    reportedAtMs: now,
    progressAtMs: null,
    createdAtMs: now,
    updatedAtMs: now
  }
}

function copy (entry: IndexEntry): IndexEntry {
  return { ...entry, error: entry.error == null ? null : { ...entry.error } }
}
