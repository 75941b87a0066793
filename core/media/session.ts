import { spawn } from 'node:child_process'
import { watch } from 'node:fs'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { UNTIED_LAUNCHER } from './child-launcher.ts'
import { PIECE_PATTERN, SESSION_PLAYLIST, sessionArgs } from './ffmpeg-args.ts'
import { INIT_NAME } from '../hls/index.ts'
import type { ChildLauncher } from './child-launcher.ts'
import type { SegmentGrid } from './grid.ts'
import type { RenditionPlan } from './profiles.ts'
import type { Logger } from '../logger.ts'
import type { ChildProcess } from 'node:child_process'
import type { FSWatcher } from 'node:fs'

/** What a session needs to know about the rendition it makes. */
export interface RenditionJob {
  readonly key: string
  /** Absolute path of the source file. */
  readonly input: string
  readonly plan: RenditionPlan
  readonly grid: SegmentGrid
  /**
   * The segment that output piece `piece` of a session started at `startIndex` belongs to. ffmpeg cuts at
   * every keyframe: one piece is one segment when we place the keyframes, one source GOP when we copy.
   */
  readonly pieceSegment: (startIndex: number, piece: number) => number
}

export interface SessionInit {
  job: RenditionJob
  startIndex: number
  segmentSeconds: number
  workDir: string
  ffmpeg: string
  ffmpegMajor: number
  /** How ffmpeg is started (tied to the server's life). @default UNTIED_LAUNCHER */
  launcher?: ChildLauncher
  logger: Logger
  /** Called for each finished piece of output; resolves once it is stored. */
  onSegment: (index: number, bytes: Uint8Array) => Promise<void>
  onInit: (bytes: Uint8Array) => Promise<void>
  /** Asked after each segment: false stops the session (another session already made what follows). */
  wanted: (nextIndex: number) => Promise<boolean>
}

/** True when an fMP4 piece holds a movie fragment with media data (top-level `moof` and non-empty `mdat`). */
export function hasMedia (bytes: Uint8Array): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  let moof = false
  while (at + 8 <= bytes.byteLength) {
    let size = view.getUint32(at)
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7])
    let header = 8
    if (size === 1 && at + 16 <= bytes.byteLength) { size = Number(view.getBigUint64(at + 8)); header = 16 }
    if (size === 0) size = bytes.byteLength - at
    if (size < header) return false
    if (type === 'moof') moof = true
    if (type === 'mdat' && moof && size > header) return true
    at += size
  }
  return false
}

/** How a session ended. */
export type SessionEnd = { reason: 'finished' } | { reason: 'stopped' } | { reason: 'failed', message: string }

const POLL_MS = 200
const STDERR_KEEP_BYTES = 4096

/** One ffmpeg process making consecutive segments of one rendition from `startIndex` on. */
export class TranscodeSession {
  readonly job: RenditionJob
  readonly startIndex: number
  /** The next segment index this session will store. */
  nextIndex: number
  lastDemandMs = Date.now()
  /** Set while a caller needs the session to run to the end regardless of viewers. */
  keepAlive = 0
  readonly ended: Promise<SessionEnd>

  private readonly init: SessionInit
  private readonly dir: string
  private child?: ChildProcess
  private watcher?: FSWatcher
  private poller?: NodeJS.Timeout
  private piecesDone = 0
  private pending?: { index: number, parts: Buffer[] }
  private initDone = false
  private scanning?: Promise<void>
  private rescan = false
  private stopping = false
  private stderr = ''
  private readonly finish: (end: SessionEnd) => void
  private readonly progressListeners = new Set<() => void>()

  constructor (init: SessionInit) {
    this.init = init
    this.job = init.job
    this.startIndex = init.startIndex
    this.nextIndex = init.startIndex
    this.dir = join(init.workDir, `${init.job.key}-${init.startIndex}-${process.hrtime.bigint().toString(36)}`)
    const { promise, resolve } = Promise.withResolvers<SessionEnd>()
    this.ended = promise
    this.finish = resolve
  }

  /** Spawns ffmpeg; resolves once it runs. */
  async start (): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const args = sessionArgs({
      input: this.job.input,
      plan: this.job.plan,
      startIndex: this.startIndex,
      startSeconds: this.job.grid.starts[this.startIndex],
      segmentSeconds: this.init.segmentSeconds,
      outDir: this.dir,
      ffmpegMajor: this.init.ffmpegMajor
    })
    this.init.logger.debug({ key: this.job.key, start: this.startIndex }, 'starting ffmpeg session')
    const command = (this.init.launcher ?? UNTIED_LAUNCHER).command(this.init.ffmpeg, args)
    const child = spawn(command.file, command.args, { stdio: ['ignore', 'ignore', 'pipe'], shell: false })
    this.child = child
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-STDERR_KEEP_BYTES)
    })
    child.once('error', err => { void this.close({ reason: 'failed', message: err.message }) })
    child.once('exit', (code, signal) => { void this.onExit(code, signal) })
    this.watcher = watch(this.dir, () => { this.scan() })
    this.watcher.on('error', () => {})
    // watch events can be missed or coalesced: a slow poll guarantees progress
    this.poller = setInterval(() => { this.scan() }, POLL_MS)
  }

  /** Runs `listener` whenever a segment is stored; returns its removal. */
  onProgress (listener: () => void): () => void {
    this.progressListeners.add(listener)
    return () => this.progressListeners.delete(listener)
  }

  /** True while ffmpeg may still produce segment `index` soon. */
  covers (index: number, lookahead: number): boolean {
    return !this.stopping && index >= this.nextIndex && index <= this.nextIndex + lookahead
  }

  get running (): boolean {
    return !this.stopping
  }

  /** Stops ffmpeg; what it finished is kept. */
  async stop (): Promise<void> {
    if (this.stopping) { await this.ended; return }
    this.stopping = true
    this.child?.kill('SIGKILL')
    await this.close({ reason: 'stopped' })
  }

  private scan (): void {
    if (this.scanning != null) { this.rescan = true; return }
    this.scanning = this.collect()
      .catch(err => {
        this.init.logger.error({ err, key: this.job.key }, 'storing a segment failed')
        this.stopping = true
        this.child?.kill('SIGKILL')
        void this.close({ reason: 'failed', message: `storing a segment failed: ${(err as Error).message}` })
      })
      .finally(() => {
        this.scanning = undefined
        if (this.rescan) { this.rescan = false; this.scan() }
      })
  }

  /** Reads ffmpeg's own playlist: it lists a piece only once the piece is complete on disk. */
  private async collect (): Promise<void> {
    let text: string
    try {
      text = await readFile(join(this.dir, SESSION_PLAYLIST), 'utf8')
    } catch { return }
    const pieces = text.split('\n').map(l => PIECE_PATTERN.exec(l.trim())).filter(m => m != null).map(m => Number(m[1]))
    for (const piece of pieces) {
      if (piece < this.piecesDone) continue
      if (!this.initDone) {
        await this.init.onInit(await readFile(join(this.dir, INIT_NAME)))
        this.initDone = true
      }
      const file = join(this.dir, `p${piece}.m4s`)
      const index = this.job.pieceSegment(this.startIndex, piece)
      if (this.pending != null && this.pending.index !== index) await this.flush()
      const bytes = await readFile(file)
      // past the end of a source ffmpeg still closes an empty fragment: never store one as a segment
      if (index < this.job.grid.starts.length && hasMedia(bytes)) {
        this.pending ??= { index, parts: [] }
        this.pending.parts.push(bytes)
      }
      await rm(file, { force: true })
      this.piecesDone = piece + 1
      // a piece is a whole segment unless the next piece may still belong to it (copied GOPs)
      if (this.job.pieceSegment(this.startIndex, piece + 1) !== index) {
        const stop = await this.flush()
        if (stop) return
      }
    }
  }

  /** Stores the segment gathered so far; true when the session was stopped as no longer wanted. */
  private async flush (): Promise<boolean> {
    const pending = this.pending
    if (pending == null) return false
    this.pending = undefined
    await this.init.onSegment(pending.index, pending.parts.length === 1 ? pending.parts[0] : Buffer.concat(pending.parts))
    this.nextIndex = pending.index + 1
    for (const listener of this.progressListeners) listener()
    if (!this.stopping && this.nextIndex < this.job.grid.starts.length && !await this.init.wanted(this.nextIndex)) {
      this.init.logger.debug({ key: this.job.key, at: this.nextIndex }, 'session reached made segments, stopping')
      await this.stop()
      return true
    }
    return false
  }

  private async onExit (code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    // drain what ffmpeg wrote before it ended
    while (this.scanning != null) await this.scanning
    await this.collect().catch(() => {})
    if (!this.stopping) await this.flush().catch(() => {})
    if (this.stopping) { await this.close({ reason: 'stopped' }); return }
    const complete = this.nextIndex >= this.job.grid.starts.length
    if (complete) {
      // an exit status alone does not tell a good run (old builds crash at exit after writing everything)
      await this.close({ reason: 'finished' })
    } else {
      const last = this.stderr.trim().split('\n').pop() ?? ''
      const message = `ffmpeg ended (${signal ?? `code ${code}`}) at segment ${this.nextIndex} of ${this.job.grid.starts.length}${last === '' ? '' : `: ${last}`}`
      this.init.logger.warn({ key: this.job.key, stderr: this.stderr }, message)
      await this.close({ reason: 'failed', message })
    }
  }

  private async close (end: SessionEnd): Promise<void> {
    this.stopping = true
    if (this.poller != null) clearInterval(this.poller)
    this.watcher?.close()
    this.poller = undefined
    this.watcher = undefined
    this.finish(end)
    for (const listener of this.progressListeners) listener()
    if (this.child?.exitCode === null && this.child.signalCode === null) {
      await new Promise<void>(resolve => this.child?.once('exit', () => { resolve() }))
    }
    await rm(this.dir, { recursive: true, force: true }).catch(() => {})
  }
}
