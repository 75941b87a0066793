import { spawn } from 'node:child_process'
import { watch } from 'node:fs'
import { getPriority, setPriority } from 'node:os'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { freeBytes, isOutOfSpace } from '../disk-space.ts'
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

/**
 * True when `bytes` are whole MP4 boxes end to end. ffmpeg's HLS muxer ignores write errors (a full disk), so a piece
 * it lists may be empty or cut short: such bytes must never be stored as a segment.
 */
export function wholeBoxes (bytes: Uint8Array): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  while (at < bytes.byteLength) {
    if (at + 8 > bytes.byteLength) return false
    let size = view.getUint32(at)
    let header = 8
    if (size === 1) {
      if (at + 16 > bytes.byteLength) return false
      size = Number(view.getBigUint64(at + 8))
      header = 16
    }
    if (size === 0) return true // the last box runs to the end
    if (size < header || at + size > bytes.byteLength) return false
    at += size
  }
  return at > 0
}

/** The error of a work folder whose disk is full: ENOSPC, as the write that failed inside ffmpeg would have said. */
function noRoom (free: number): Error {
  return Object.assign(new Error(`${free} bytes free in ffmpeg's work folder`), { code: 'ENOSPC' })
}

/**
 * Makes a just-spawned ffmpeg nicer than this process. Linux keeps niceness per thread and a new thread takes its creator's: set before
 * ffmpeg starts its encoding threads (spawn returns right after the exec, long before ffmpeg has opened its input),
 * all of them run at it. A child gone already, or a platform that refuses, leaves it as it was.
 */
function lowerPriority (pid: number): void {
  try {
    setPriority(pid, Math.min(NICEST, getPriority() + FFMPEG_NICENESS_ABOVE_SERVER))
  } catch {}
}

/** How a session ended; a failure keeps its cause (an ENOSPC, a SQLITE_FULL...) for the caller to tell apart. */
export type SessionEnd = { reason: 'finished' } | { reason: 'stopped' } | { reason: 'failed', message: string, cause?: unknown }

const POLL_MS = 200
/**
 * How much nicer than the server ffmpeg runs. An encode takes every core it can get, and the work that turns its pieces into answers (reading a
 * finished piece, storing it in Helia, serving the viewer who waits for it, every other request) would otherwise queue
 * behind it: bench row 1 (first segment, cold) spent ~78 ms from ffmpeg listing its first piece to the viewer having
 * it, ~41 ms with ffmpeg 10 nicer. Alone on the machine ffmpeg runs as fast (niceness only weighs runnable threads
 * against each other).
 */
export const FFMPEG_NICENESS_ABOVE_SERVER = 10
/** The nicest a process can be. */
const NICEST = 19
const STDERR_KEEP_BYTES = 4096
/**
 * ffmpeg's HLS muxer drops write errors: on a full disk ffmpeg 5.1 writes empty files, prints nothing and exits 0.
 * A run that ends short while its work folder's disk has less than this left is taken as out of space.
 */
const LOW_SPACE_BYTES = 16 * 1024 * 1024
/**
 * Less than this free while ffmpeg runs means its writes are failing now (it writes 32 KiB at a time). It would go on
 * encoding the whole source into empty files before exiting: the session stops it at once instead.
 */
const NO_ROOM_BYTES = 64 * 1024

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
  private measuring = false
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
    if (child.pid != null) lowerPriority(child.pid)
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-STDERR_KEEP_BYTES)
    })
    child.once('error', err => { void this.close({ reason: 'failed', message: err.message, cause: err }) })
    child.once('exit', (code, signal) => { void this.onExit(code, signal) })
    this.watcher = watch(this.dir, () => { this.scan() })
    this.watcher.on('error', () => {})
    // watch events can be missed or coalesced: a slow poll guarantees progress
    this.poller = setInterval(() => { this.scan(); this.checkRoom() }, POLL_MS)
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

  /** Stops ffmpeg as soon as its work folder's disk has no room left: out of space, not a transcoding failure. */
  private checkRoom (): void {
    if (this.measuring || this.stopping) return
    this.measuring = true
    freeBytes(this.init.workDir).then(free => {
      if (free >= NO_ROOM_BYTES || this.stopping) return
      this.init.logger.warn({ key: this.job.key, at: this.nextIndex, free }, 'the work folder\'s disk is full: stopping ffmpeg')
      this.stopping = true
      this.child?.kill('SIGKILL')
      void this.close({ reason: 'failed', message: 'no room left for ffmpeg\'s output', cause: noRoom(free) })
    }, () => {}).finally(() => { this.measuring = false })
  }

  private scan (): void {
    if (this.scanning != null) { this.rescan = true; return }
    this.scanning = this.collect()
      .catch(err => {
        this.init.logger.error({ err, key: this.job.key }, 'storing a segment failed')
        this.stopping = true
        this.child?.kill('SIGKILL')
        // the details (a driver's error names) stay in the log; the cause travels for the caller to classify
        void this.close({ reason: 'failed', message: 'storing a segment failed', cause: err })
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
        await this.init.onInit(await this.whole(join(this.dir, INIT_NAME)))
        this.initDone = true
      }
      const file = join(this.dir, `p${piece}.m4s`)
      const index = this.job.pieceSegment(this.startIndex, piece)
      if (this.pending != null && this.pending.index !== index) await this.flush()
      const bytes = await this.whole(file)
      // past the end of a source ffmpeg still closes an empty fragment: never store one as a segment
      if (index < this.job.grid.starts.length && hasMedia(bytes)) {
        this.pending ??= { index, parts: [] }
        this.pending.parts.push(bytes)
      }
      this.piecesDone = piece + 1
      // a piece is a whole segment unless the next piece may still belong to it (copied GOPs); its file is removed once
      // the segment is stored, so that removal is not on the way of the viewers waiting for it
      const whole = this.job.pieceSegment(this.startIndex, piece + 1) !== index
      const stop = whole && await this.flush()
      await rm(file, { force: true })
      if (stop) return
    }
  }

  /** The bytes of a file ffmpeg says is complete; throws (out of space, when that is why) if they are not whole boxes. */
  private async whole (file: string): Promise<Buffer> {
    const bytes = await readFile(file)
    if (wholeBoxes(bytes)) return bytes
    throw await this.outOfSpace() ?? new Error(`ffmpeg listed ${file.slice(this.dir.length + 1)} but wrote only ${bytes.byteLength} bytes of it`)
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
      const cause = await this.outOfSpace()
      this.init.logger.warn({ key: this.job.key, stderr: this.stderr, outOfSpace: cause?.message }, message)
      await this.close({ reason: 'failed', message, cause })
    }
  }

  /** Why ffmpeg could not write, when the disk is the reason: its own words, or a work folder with almost no space left. */
  private async outOfSpace (): Promise<Error | undefined> {
    const said = new Error(this.stderr)
    if (isOutOfSpace(said)) return said
    const free = await freeBytes(this.init.workDir).catch(() => undefined)
    if (free == null || free >= LOW_SPACE_BYTES) return undefined
    return noRoom(free)
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
