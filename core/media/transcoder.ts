import { availableParallelism } from 'node:os'
import { diskFullError, isOutOfSpace } from '../disk-space.ts'
import { TooManySessionsError, TranscodeFailedError } from '../errors.ts'
import { SEGMENT_SECONDS } from './grid.ts'
import { createElsewhereWaits, holdLease } from './leases.ts'
import { TranscodeSession } from './session.ts'
import type { ChildLauncher } from './child-launcher.ts'
import type { ElsewhereWaits, LeaseHold, LeaseRefusal, TranscoderLeases } from './leases.ts'
import type { SegmentStore, StoredSegment } from './segment-store.ts'
import type { RenditionJob, SessionEnd } from './session.ts'
import type { Logger } from '../logger.ts'

export type { RenditionJob }

export interface TranscoderInit {
  /** Seconds per segment on the fixed grid. @default 2 */
  segmentSeconds?: number
  /** Most ffmpeg sessions at once. @default os.availableParallelism() */
  maxSessions?: number
  /** A session nobody asked anything of for this long is stopped. @default 20000 */
  idleMs?: number
  /** A request this many segments past a session's position joins it instead of starting another. @default 3 */
  lookaheadSegments?: number
  /** How long a transcode lease lasts unless renewed: how soon another server takes over from one that died. @default 15000 */
  leaseTtlMs?: number
  /** How often a running session renews its lease (with its position). @default 5000 */
  leaseRenewMs?: number
  /** How often a request waiting for a segment another server is making looks for it. @default 200 */
  leasePollMs?: number
}

export interface TranscoderComponents {
  logger: Logger
  /** Resolved ffmpeg binary and its major version. */
  ffmpeg: { path: string, major: number }
  /** How ffmpeg is started: tied to the server's life (child-launcher.ts). @default started as it is */
  launcher?: ChildLauncher
  segments: SegmentStore
  /** Scratch folder for ffmpeg output before it is imported. */
  workDir: string
  /** Called when every segment of a rendition exists (may be called again for the same rendition: be idempotent). */
  onComplete?: (job: RenditionJob) => Promise<void>
  /** Called each time ffmpeg is started, for metrics. */
  onSessionStart?: (job: RenditionJob, startIndex: number) => void
  /** Told of every session that failed for lack of space (what /healthz reports), whether a viewer waited on it or not. */
  onDiskFull?: (err: Error) => void
  /**
   * Leases shared with the other main servers of the same database (leases.ts): a session is started only under a
   * lease, and a segment another server's session is making is waited for. None: this server alone makes segments.
   */
  leases?: TranscoderLeases
}

/** What a running session is doing, for /metrics and tests. */
export interface SessionInfo {
  key: string
  startIndex: number
  nextIndex: number
}

export interface Transcoder {
  /** Resolves when segment `index` of `job` is stored: from the store, by joining a session, or by starting one at `index`. */
  segment: (job: RenditionJob, index: number, options?: { signal?: AbortSignal }) => Promise<StoredSegment>
  /** Resolves with the rendition's init segment, starting a session at segment 0 when none runs. */
  init: (job: RenditionJob, options?: { signal?: AbortSignal }) => Promise<StoredSegment>
  /** Makes every missing segment of `job` (keeping its sessions alive without viewers); resolves when all exist. */
  complete: (job: RenditionJob, options?: { signal?: AbortSignal }) => Promise<void>
  sessions: () => SessionInfo[]
  start: () => Promise<void>
  /** Stops every ffmpeg session; segments already stored stay. */
  stop: () => Promise<void>
}

class SessionTranscoder implements Transcoder {
  private readonly components: TranscoderComponents
  private readonly log: Logger
  private readonly segmentSeconds: number
  private readonly maxSessions: number
  private readonly idleMs: number
  private readonly lookahead: number
  private readonly running = new Set<TranscodeSession>()
  private readonly finalizing = new Map<string, Promise<void>>()
  private readonly leaseTtlMs: number
  private readonly leaseRenewMs: number
  /** Waits for segments other servers are making. */
  private readonly elsewhere: ElsewhereWaits
  /** Lease releases under way: stop() waits for them, so they reach the catalog before it closes. */
  private readonly releasing = new Set<Promise<void>>()
  private reaper?: NodeJS.Timeout
  private stopped = false

  constructor (components: TranscoderComponents, init: TranscoderInit) {
    this.components = components
    this.log = components.logger
    this.segmentSeconds = init.segmentSeconds ?? SEGMENT_SECONDS
    this.maxSessions = Math.max(1, init.maxSessions ?? availableParallelism())
    this.idleMs = init.idleMs ?? 20_000
    this.lookahead = init.lookaheadSegments ?? 3
    this.leaseTtlMs = init.leaseTtlMs ?? 15_000
    this.leaseRenewMs = init.leaseRenewMs ?? 5000
    this.elsewhere = createElsewhereWaits(this.log, init.leasePollMs ?? 200)
  }

  async start (): Promise<void> {
    this.stopped = false
    this.reaper = setInterval(() => { this.reap() }, Math.min(1000, this.idleMs / 2))
    this.reaper.unref()
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.reaper != null) clearInterval(this.reaper)
    await Promise.all([...this.running].map(async s => { await s.stop() }))
    await Promise.all(this.releasing)
  }

  sessions (): SessionInfo[] {
    return [...this.running].map(s => ({ key: s.job.key, startIndex: s.startIndex, nextIndex: s.nextIndex }))
  }

  async segment (job: RenditionJob, index: number, options: { signal?: AbortSignal } = {}): Promise<StoredSegment> {
    this.touch(job.key, index)
    for (;;) {
      const stored = await this.components.segments.get(job.key, index)
      if (stored != null) return stored
      options.signal?.throwIfAborted()
      const session = await this.obtain(job, index, options.signal)
      if (session == null) continue
      session.lastDemandMs = Date.now()
      await this.progress(session, () => session.nextIndex > index, options.signal, `making segment ${index} of ${job.plan.profile.name}`)
    }
  }

  async init (job: RenditionJob, options: { signal?: AbortSignal } = {}): Promise<StoredSegment> {
    for (;;) {
      const stored = await this.components.segments.getInit(job.key)
      if (stored != null) return stored
      options.signal?.throwIfAborted()
      const session = this.newest(job.key) ?? await this.launch(job, 0)
      if (!(session instanceof TranscodeSession)) {
        await this.elsewhere.wait(`${job.key}/init`, session, async () => await this.components.segments.getInit(job.key) != null, options.signal)
        continue
      }
      session.lastDemandMs = Date.now()
      await this.progress(session, () => session.nextIndex > session.startIndex, options.signal, `making the init segment of ${job.plan.profile.name}`)
    }
  }

  async complete (job: RenditionJob, options: { signal?: AbortSignal } = {}): Promise<void> {
    const count = job.grid.starts.length
    for (let index = 0; index < count; index++) {
      if (await this.components.segments.get(job.key, index) != null) continue
      options.signal?.throwIfAborted()
      const session = await this.obtain(job, index, options.signal)
      // another server made it, or the lease on it ran out: look again
      if (session == null) { index--; continue }
      session.keepAlive++
      try {
        await this.progress(session, () => session.nextIndex > index, options.signal, `making segment ${index} of ${job.plan.profile.name}`)
      } finally {
        session.keepAlive--
      }
      index-- // look at the same index again: it is stored now, or the session ended without it
    }
    await this.finalize(job)
  }

  /**
   * Waits until `done()` holds or the session ends; a failed session fails the wait: with DiskFullError when it ran out
   * of space (`what` names what was not made), else TranscodeFailedError.
   */
  private async progress (session: TranscodeSession, done: () => boolean, signal: AbortSignal | undefined, what: string): Promise<void> {
    if (done()) return
    let remove = (): void => {}
    let onAbort = (): void => {}
    try {
      await new Promise<void>((resolve, reject) => {
        remove = session.onProgress(() => { if (done()) resolve() })
        void session.ended.then((end: SessionEnd) => {
          if (end.reason === 'failed') reject(isOutOfSpace(end.cause) ? diskFullError(end.cause, what) : new TranscodeFailedError(end.message, { cause: end.cause }))
          else resolve() // stopped or finished: the caller looks again
        })
        onAbort = () => { reject(signal?.reason ?? new Error('aborted')) }
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    } finally {
      remove()
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /**
   * A session of this server that will make segment `index`, joined or started; undefined once another server's lease
   * on it was waited out (the segment exists now, or it is time to claim again): the caller looks again.
   */
  private async obtain (job: RenditionJob, index: number, signal: AbortSignal | undefined): Promise<TranscodeSession | undefined> {
    const session = this.sessionFor(job, index) ?? await this.launch(job, index)
    if (session instanceof TranscodeSession) return session
    await this.elsewhere.wait(`${job.key}/${index}`, session, async () => await this.components.segments.get(job.key, index) != null, signal)
    return undefined
  }

  private touch (key: string, index: number): void {
    const now = Date.now()
    for (const s of this.running) {
      if (s.job.key === key && index >= s.startIndex && index <= s.nextIndex + this.lookahead) s.lastDemandMs = now
    }
  }

  private sessionFor (job: RenditionJob, index: number): TranscodeSession | undefined {
    for (const s of this.running) {
      if (s.job.key === job.key && s.covers(index, this.lookahead)) return s
    }
    return undefined
  }

  private newest (key: string): TranscodeSession | undefined {
    let found: TranscodeSession | undefined
    for (const s of this.running) if (s.job.key === key && s.running) found = s
    return found
  }

  /**
   * Starts a session at `index`, under a lease when there are leases; another server's live lease on `index` refuses
   * it (nothing is started: the refusal is returned).
   */
  private async launch (job: RenditionJob, index: number): Promise<TranscodeSession | LeaseRefusal> {
    if (this.stopped) throw new TooManySessionsError('the transcoder is stopped')
    if (this.running.size >= this.maxSessions) await this.evict()
    const { segments } = this.components
    const session = new TranscodeSession({
      job,
      startIndex: index,
      segmentSeconds: this.segmentSeconds,
      workDir: this.components.workDir,
      ffmpeg: this.components.ffmpeg.path,
      ffmpegMajor: this.components.ffmpeg.major,
      launcher: this.components.launcher,
      logger: this.log,
      onSegment: async (n, bytes) => { await segments.put(job.key, n, bytes) },
      onInit: async bytes => { await segments.putInit(job.key, bytes) },
      wanted: async next => !this.madeElsewhere(job.key, next) && await segments.get(job.key, next) == null
    })
    // registered before the first await, so concurrent requests for the same segment join it
    this.running.add(session)
    const lease = await this.claim(session)
    if (lease != null && 'granted' in lease) {
      // those who joined meanwhile see it stop and look again
      this.running.delete(session)
      await session.stop()
      return lease
    }
    if (lease != null) {
      session.onProgress(() => { lease.moved() })
      void session.ended.then(() => { this.release(lease) })
    }
    if (!session.running) {
      // stopped while claiming (the transcoder is stopping): never started
      this.running.delete(session)
      return session
    }
    void session.ended.then(end => { void this.ended(session, end) })
    try {
      await session.start()
    } catch (err) {
      this.running.delete(session)
      void session.stop()
      // its work folder could not even be made
      if (!isOutOfSpace(err)) throw err
      const full = diskFullError(err, `starting ffmpeg for ${job.plan.profile.name}`)
      this.components.onDiskFull?.(full)
      throw full
    }
    this.components.onSessionStart?.(job, index)
    return session
  }

  /**
   * The lease for a new session: held (renewed until the session ends), refused by another server's, or undefined
   * without leases. A store that fails to answer does not fail the viewer's request: the session runs without a lease,
   * and at worst another server makes the same segments too (the first stored version wins).
   */
  private async claim (session: TranscodeSession): Promise<LeaseHold | LeaseRefusal | undefined> {
    const leases = this.components.leases
    if (leases == null) return undefined
    const { key } = session.job
    let claim
    try {
      claim = await leases.store.claim(key, session.startIndex, leases.owner, this.leaseTtlMs, this.lookahead)
    } catch (err) {
      this.log.warn({ err, key, at: session.startIndex }, 'claiming a transcode lease failed: making the segments without one')
      return undefined
    }
    if (!claim.granted) return claim
    return holdLease(claim.id, {
      leases,
      logger: this.log,
      key,
      lookahead: this.lookahead,
      ttlMs: this.leaseTtlMs,
      renewMs: this.leaseRenewMs,
      position: () => session.nextIndex,
      onTaken: () => { void session.stop() }
    })
  }

  private release (lease: LeaseHold): void {
    const releasing = lease.release().finally(() => { this.releasing.delete(releasing) })
    this.releasing.add(releasing)
  }

  /** True when another session has already made segment `index` (or is making it right now). */
  private madeElsewhere (key: string, index: number): boolean {
    for (const s of this.running) {
      if (s.job.key === key && s.startIndex <= index && s.nextIndex > index) return true
    }
    return false
  }

  private async ended (session: TranscodeSession, end: SessionEnd): Promise<void> {
    this.running.delete(session)
    if (end.reason === 'failed') {
      if (isOutOfSpace(end.cause)) this.components.onDiskFull?.(diskFullError(end.cause, `making ${session.job.plan.profile.name}`))
      return
    }
    try {
      await this.finalize(session.job)
    } catch (err) {
      // the rendition stays partial: the next session that ends, or complete(), tries again
      if (isOutOfSpace(err)) this.components.onDiskFull?.(diskFullError(err, `finishing ${session.job.plan.profile.name}`))
      this.log.error({ err, key: session.job.key }, 'finishing the rendition failed')
    }
  }

  /** Hands a rendition whose every segment exists to `onComplete`, once at a time per rendition. */
  private async finalize (job: RenditionJob): Promise<void> {
    const busy = this.finalizing.get(job.key)
    if (busy != null) { await busy; return }
    const work = (async () => {
      for (let n = 0; n < job.grid.starts.length; n++) {
        if (await this.components.segments.get(job.key, n) == null) return
      }
      if (await this.components.segments.getInit(job.key) == null) return
      await this.components.onComplete?.(job)
    })()
    this.finalizing.set(job.key, work)
    try {
      await work
    } finally {
      this.finalizing.delete(job.key)
    }
  }

  /** Makes room for one more session: stops the least recently wanted one that nobody waits on closely. */
  private async evict (): Promise<void> {
    const candidates = [...this.running].filter(s => s.keepAlive === 0).sort((a, b) => a.lastDemandMs - b.lastDemandMs)
    const victim = candidates[0]
    if (victim == null || Date.now() - victim.lastDemandMs < 1000) {
      throw new TooManySessionsError(`all ${this.maxSessions} transcoding sessions are busy; try again shortly`)
    }
    this.log.info({ key: victim.job.key, at: victim.nextIndex }, 'stopping the least recently used session for a new one')
    await victim.stop()
  }

  private reap (): void {
    const now = Date.now()
    for (const s of this.running) {
      if (s.keepAlive === 0 && now - s.lastDemandMs > this.idleMs) {
        this.log.debug({ key: s.job.key, at: s.nextIndex }, 'stopping idle session')
        void s.stop()
      }
    }
  }
}

/** Creates the on-demand transcoder: ffmpeg sessions shared by viewers, started where they are needed. */
export function createTranscoder (components: TranscoderComponents, init: TranscoderInit = {}): Transcoder {
  return new SessionTranscoder(components, init)
}
