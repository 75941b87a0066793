import { createHash, randomBytes } from 'node:crypto'
import { Counter, Gauge } from 'prom-client'
import { MAX_SERVED_REPORTS } from '../control/index.ts'
import type { ContentSource } from './miss-resolver.ts'
import type { ServedReport } from '../control/index.ts'
import type { Logger } from '../logger.ts'
import type { Registry } from 'prom-client'

/*
 * What a CDN node's gateway served, per rendition root, for the main server's demand scores (issue #13, item 1).
 * Every `/media` and `/ipfs` answer is counted: requests, body bytes written by source (local blocks, peers, the
 * origin; a redirect is a request without bytes) and distinct viewers. A `/media` answer is counted under its
 * rendition root when the node knows it (pinned here, or learned from the origin), else under its media id and
 * profile until the root is known; nothing is dropped. Each heartbeat takes the largest entries (by bytes) as a
 * batch with an id and sets them aside: the server's reply drops them; after a failed beat the same batch, with the
 * same id, goes again (what came since waits for the next one), so a server that took it although the node never
 * heard back (a reply lost, a beat timed out while the server worked on) drops the repeat instead of counting twice.
 */

/** Where an answer's bytes came from, or that the viewer was sent to the origin. */
export type ServedSource = ContentSource | 'redirect'

/** One answer of the node's gateway, as the routes saw it. */
export interface ServedAnswer {
  /** The root CID of an `/ipfs` path. */
  root?: string
  /** The media id of a `/media` path, and its profile (none for the master playlist). */
  media?: string
  profile?: string
  /** Where its bytes came from; none for an answer that failed (counted as a request, without bytes). */
  source?: ServedSource
  /** Body bytes written. */
  bytes: number
  /** Who asked (a stream token's user id, else the remote address): hashed here with a salt of this process, never kept or sent as it is. */
  viewer: string
  /** Epoch milliseconds. @default Date.now() */
  at?: number
}

export interface DemandMeter {
  /** Counts one answer (a `/media` answer is put under its root once that is looked up). */
  record (answer: ServedAnswer): void
  /**
   * The next heartbeat's reports: at most `maxReports`, the largest by bytes first, set aside until acknowledged; a
   * batch not acknowledged is taken again as it was, with its id.
   */
  take (): Promise<ServedReport[]>
  /** The id of the batch the last take returned (none when it was empty). */
  batch (): string | undefined
  /** The server took the last reports: they are done. */
  acknowledge (): void
  /** The beat failed: the same batch goes with the next one. */
  restore (): void
  /** Entries waiting for a heartbeat (set aside ones included). */
  pending (): number
}

export interface DemandMeterComponents {
  /** The root of a media's rendition, when this node knows it (held media, the media cache). */
  rootOf: (media: string, profile: string) => Promise<string | undefined>
  logger: Logger
  /** The node's metrics registry: requests and bytes by source are counted there too. */
  registry?: Registry
}

export interface DemandMeterInit {
  /** Most reports per heartbeat. @default MAX_SERVED_REPORTS (512) */
  maxReports?: number
  /** Most entries kept between beats (a main server away for long); past it the smallest are forgotten. @default 65536 */
  maxEntries?: number
  /** Distinct viewers remembered per entry; more count as this many. @default 4096 */
  maxViewers?: number
  /** Distinct viewers remembered over all entries (memory); past it a new viewer of an entry is not told apart. @default 262144 */
  maxViewersTotal?: number
}

/** The counts of one root (or media and profile) since the last acknowledged beat. */
interface Tally {
  root?: string
  media?: string
  profile?: string
  requests: number
  local: number
  peer: number
  origin: number
  redirects: number
  viewers: Set<string>
  firstAt: number
  lastAt: number
}

/** Creates the node's demand meter. */
export function createDemandMeter (components: DemandMeterComponents, init: DemandMeterInit = {}): DemandMeter {
  return new Meter(components, init)
}

function keyOf (what: { root?: string, media?: string, profile?: string }): string {
  return what.root != null ? `root ${what.root}` : `media ${what.media ?? ''}/${what.profile ?? ''}`
}

/** Viewer hashes remembered (a few hundred KB at most). */
const HASHES_KEPT = 4096

function bytesOf (tally: Tally): number {
  return tally.local + tally.peer + tally.origin
}

class Meter implements DemandMeter {
  private readonly log: Logger
  private readonly maxReports: number
  private readonly maxEntries: number
  private readonly maxViewers: number
  private readonly maxViewersTotal: number
  /** Viewer hashes held over all entries, open and taken. */
  private viewerCount = 0
  private warned = false
  /** Viewers are hashed with it, so the ids in memory name nobody outside this process. */
  private readonly salt = randomBytes(16)
  /** Recent viewers' hashes, oldest first. */
  private readonly hashes = new Map<string, string>()
  private readonly open = new Map<string, Tally>()
  private taken: Tally[] = []
  /** The batch set aside: its id and reports, as they were sent. */
  private batchId: string | undefined
  private batchReports: ServedReport[] = []
  private batches = 0
  /** Batch ids of this process: a restarted node's first batch is never taken for a repeat of its last. */
  private readonly batchPrefix = randomBytes(6).toString('base64url')
  /** Root look-ups still running: a heartbeat waits for them so an answer is never left out of the beat after it. */
  private readonly attributing = new Set<Promise<void>>()
  private readonly requests?: Counter<'source'>
  private readonly bytes?: Counter<'source'>
  private readonly forgotten?: Counter

  constructor (private readonly c: DemandMeterComponents, init: DemandMeterInit) {
    this.log = c.logger.child({ name: 'cidcast:demand-meter' })
    this.maxReports = init.maxReports ?? MAX_SERVED_REPORTS
    this.maxEntries = init.maxEntries ?? 65_536
    this.maxViewers = init.maxViewers ?? 4096
    this.maxViewersTotal = init.maxViewersTotal ?? 262_144
    if (c.registry != null) {
      const registers = [c.registry]
      this.requests = new Counter({ name: 'cidcast_node_served_requests_total', help: '/media and /ipfs answers counted for the main server\'s demand scores, by source (local, peer, origin, redirect, failed)', labelNames: ['source'], registers })
      this.bytes = new Counter({ name: 'cidcast_node_served_bytes_total', help: 'body bytes written by /media and /ipfs answers, by source', labelNames: ['source'], registers })
      this.forgotten = new Counter({ name: 'cidcast_node_served_forgotten_total', help: 'served entries forgotten because too many waited for a heartbeat', registers })
      const meter = this
      void new Gauge({ name: 'cidcast_node_served_pending', help: 'served entries (roots, or media and profile) waiting for a heartbeat', registers, collect () { this.set(meter.pending()) } })
    }
  }

  record (answer: ServedAnswer): void {
    if (answer.root == null && answer.media == null) return
    const source = answer.source ?? 'failed'
    const bytes = answer.source == null || answer.source === 'redirect' ? 0 : Math.max(0, Math.floor(answer.bytes))
    this.requests?.inc({ source })
    if (bytes > 0) this.bytes?.inc({ source }, bytes)
    const counted = { ...answer, bytes, viewer: this.hash(answer.viewer), at: answer.at ?? Date.now() }
    if (answer.root != null || answer.media == null || answer.profile == null) {
      this.add(counted)
      return
    }
    const { media, profile } = answer
    const lookup = this.c.rootOf(media, profile).then(root => {
      this.add(root == null ? counted : { ...counted, root, media: undefined, profile: undefined })
    }, err => {
      this.log.debug({ err, media, profile }, 'cannot look the rendition root up: counted under the media')
      this.add(counted)
    }).finally(() => { this.attributing.delete(lookup) })
    this.attributing.add(lookup)
  }

  async take (): Promise<ServedReport[]> {
    // a take that was not acknowledged (a beat that failed, or threw before it was sent) goes again as it was
    if (this.taken.length > 0) return this.batchReports
    await Promise.all([...this.attributing])
    await this.attributeMedia()
    const largest = [...this.open.entries()].sort(([, a], [, b]) => bytesOf(b) - bytesOf(a) || b.requests - a.requests).slice(0, this.maxReports)
    for (const [key] of largest) this.open.delete(key)
    this.taken = largest.map(([, tally]) => tally)
    this.warned = false
    this.batchReports = this.taken.map(t => this.report(t))
    this.batchId = this.taken.length > 0 ? `${this.batchPrefix}-${++this.batches}` : undefined
    return this.batchReports
  }

  batch (): string | undefined {
    return this.batchId
  }

  acknowledge (): void {
    for (const tally of this.taken) this.viewerCount -= tally.viewers.size
    this.taken = []
    this.batchReports = []
    this.batchId = undefined
  }

  restore (): void {
    // kept as taken: the next take sends the same batch
  }

  pending (): number {
    return this.open.size + this.taken.length
  }

  private hash (viewer: string): string {
    // a viewer asks for segment after segment: one SHA-256 per viewer, not per answer (3% of a busy node's turn)
    let hashed = this.hashes.get(viewer)
    if (hashed != null) return hashed
    hashed = createHash('sha256').update(this.salt).update(viewer).digest('base64url').slice(0, 22)
    if (this.hashes.size >= HASHES_KEPT) this.hashes.delete(this.hashes.keys().next().value as string)
    this.hashes.set(viewer, hashed)
    return hashed
  }

  private add (answer: Required<Pick<ServedAnswer, 'bytes' | 'viewer' | 'at'>> & ServedAnswer): void {
    const source = answer.source
    const viewers = this.viewerCount < this.maxViewersTotal ? new Set([answer.viewer]) : new Set<string>()
    this.viewerCount += viewers.size
    this.merge({
      root: answer.root,
      media: answer.root == null ? answer.media : undefined,
      profile: answer.root == null ? answer.profile : undefined,
      requests: 1,
      local: source === 'local' ? answer.bytes : 0,
      peer: source === 'peer' ? answer.bytes : 0,
      origin: source === 'origin' ? answer.bytes : 0,
      redirects: source === 'redirect' ? 1 : 0,
      viewers,
      firstAt: answer.at,
      lastAt: answer.at
    })
  }

  /** Adds a tally's counts to the open one of its key (or makes it the open one). */
  private merge (tally: Tally): void {
    const key = keyOf(tally)
    const known = this.open.get(key)
    if (known == null) {
      this.open.set(key, tally)
      this.bound()
      return
    }
    // the tally's own viewers are counted already (its set is dropped here): only those the known one lacks add up
    this.viewerCount -= tally.viewers.size
    known.requests += tally.requests
    known.local += tally.local
    known.peer += tally.peer
    known.origin += tally.origin
    known.redirects += tally.redirects
    for (const viewer of tally.viewers) {
      if (known.viewers.size >= this.maxViewers || this.viewerCount >= this.maxViewersTotal) break
      if (known.viewers.has(viewer)) continue
      known.viewers.add(viewer)
      this.viewerCount++
    }
    known.firstAt = Math.min(known.firstAt, tally.firstAt)
    known.lastAt = Math.max(known.lastAt, tally.lastAt)
  }

  /** Media counted before their root was known move under the root once it is. */
  private async attributeMedia (): Promise<void> {
    for (const [key, tally] of [...this.open]) {
      if (tally.root != null || tally.media == null || tally.profile == null) continue
      const root = await this.c.rootOf(tally.media, tally.profile).catch(() => undefined)
      if (root == null || this.open.get(key) !== tally) continue
      this.open.delete(key)
      this.merge({ ...tally, root, media: undefined, profile: undefined })
    }
  }

  /** Keeps the open entries under `maxEntries`: the one that served least goes. */
  private bound (): void {
    if (this.open.size <= this.maxEntries) return
    let smallest: [string, Tally] | undefined
    for (const entry of this.open) {
      if (smallest == null || bytesOf(entry[1]) < bytesOf(smallest[1]) || (bytesOf(entry[1]) === bytesOf(smallest[1]) && entry[1].requests < smallest[1].requests)) smallest = entry
    }
    if (smallest == null) return
    this.open.delete(smallest[0])
    this.viewerCount -= smallest[1].viewers.size
    this.forgotten?.inc()
    if (!this.warned) this.log.warn({ entries: this.maxEntries }, 'too many served entries wait for a heartbeat: the smallest are forgotten')
    this.warned = true
  }

  private report (tally: Tally): ServedReport {
    const named = tally.root != null
      ? { root: tally.root }
      : { media: tally.media, ...(tally.profile != null ? { profile: tally.profile } : {}) }
    return {
      ...named,
      requests: tally.requests,
      bytes: bytesOf(tally),
      local: tally.local,
      peer: tally.peer,
      origin: tally.origin,
      redirects: tally.redirects,
      viewers: tally.viewers.size,
      firstAt: tally.firstAt,
      lastAt: tally.lastAt
    }
  }
}
