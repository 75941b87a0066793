import { execFile, spawn } from 'node:child_process'
import type { ExecFileException } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { InvalidMediaError, InvalidPathError, PathNotFoundError } from '../errors.ts'
import { UNTIED_LAUNCHER } from './child-launcher.ts'
import { SOURCE_INPUT_ARGS, refusedDemuxer } from './source-input.ts'
import type { ChildLauncher } from './child-launcher.ts'

/** What the rest of the server needs to know about a source file. */
export interface ProbeResult {
  durationSeconds: number
  sizeBytes: number
  /** ffprobe's demuxer name(s), e.g. `mov,mp4,m4a,3gp,3g2,mj2` or `matroska,webm`. */
  formatName: string
  bitRate?: number
  video?: VideoStreamInfo
  audio?: AudioStreamInfo
}

export interface VideoStreamInfo {
  codec: string
  profile?: string
  /** Coded size, before rotation. */
  width: number
  height: number
  fps: number
  pixFmt: string
  bitRate?: number
  /** Degrees a player turns the picture clockwise to show it upright (0, 90, 180 or 270), like the `rotate` tag. */
  rotation: number
}

export interface AudioStreamInfo {
  codec: string
  channels: number
  sampleRate: number
  bitRate?: number
}

export interface ProbeOptions {
  signal?: AbortSignal
  /** Give up after this long. @default 30_000 */
  timeoutMs?: number
  /** How ffprobe is started: tied to the server's life (child-launcher.ts). @default started as it is */
  launcher?: ChildLauncher
}

/** How long a probe may take before the file is refused. */
export const PROBE_TIMEOUT_MS = 30_000
const KEYFRAMES_TIMEOUT_MS = 120_000
const MAX_PROBE_OUTPUT_BYTES = 16 * 1024 * 1024

// Codecs that usually carry still pictures: such a "video" stream counts only if it holds several frames
const IMAGE_CODECS = new Set(['png', 'apng', 'mjpeg', 'jpegls', 'jpeg2000', 'bmp', 'tiff', 'webp', 'gif', 'ansi', 'pam', 'ppm', 'pgm', 'pbm', 'qoi'])
// Demuxers for single pictures and text, never media sources
const IMAGE_FORMAT = /(^|,)(image2|tty)(,|$)|_pipe(,|$)/

/** Probes a media file with ffprobe (no shell, `file:` protocol and source demuxers only) and refuses what is not playable media. */
export async function probe (ffprobePath: string, filePath: string, options: ProbeOptions = {}): Promise<ProbeResult> {
  const absolute = await checkInput(filePath)
  const timeoutMs = options.timeoutMs ?? PROBE_TIMEOUT_MS
  const args = ['-v', 'error', ...SOURCE_INPUT_ARGS, '-print_format', 'json', '-show_format', '-show_streams', `file:${absolute}`]
  const { stdout, stderr, failure } = await new Promise<{ stdout: string, stderr: string, failure: ExecFileException | null }>((resolve, reject) => {
    const command = (options.launcher ?? UNTIED_LAUNCHER).command(ffprobePath, args)
    execFile(command.file, command.args, { signal: options.signal, timeout: timeoutMs, maxBuffer: MAX_PROBE_OUTPUT_BYTES }, (err, stdout, stderr) => {
      if (err?.name === 'AbortError') { reject(err); return }
      if (err?.code === 'ENOENT' && (err as NodeJS.ErrnoException).path === command.file) {
        reject(new Error(`ffprobe not found at ${ffprobePath}`, { cause: err })); return
      }
      resolve({ stdout, stderr, failure: err })
    })
  })
  if (failure?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') throw new InvalidMediaError('ffprobe described more streams than a media file has')
  if (failure?.killed === true) throw new InvalidMediaError(`probing did not finish within ${Math.round(timeoutMs / 1000)} s`)

  let json: FfprobeJson | undefined
  try {
    json = JSON.parse(stdout) as FfprobeJson
  } catch {
    json = undefined
  }
  if (failure != null || json?.format == null) throw unreadable(stderr, absolute)
  return probeResultFromJson(json, (await stat(absolute)).size)
}

/** Turns ffprobe's JSON into a ProbeResult, refusing still pictures, streamless files and files without duration. */
export function probeResultFromJson (json: FfprobeJson, sizeBytes: number): ProbeResult {
  const format = json.format ?? {}
  const formatName = format.format_name ?? 'unknown'
  if (IMAGE_FORMAT.test(formatName)) throw new InvalidMediaError(`a still image (${formatName}) is not media`)

  const streams = json.streams ?? []
  const videoStream = streams.find(isMovingVideo)
  const audioStream = streams.find(isDecodableAudio)
  if (videoStream == null && audioStream == null) {
    const stills = streams.some(s => s.codec_type === 'video' && !isMovingVideo(s))
    throw new InvalidMediaError(stills ? 'holds only still pictures, no audio or video' : 'has no decodable audio or video stream')
  }

  let durationSeconds = positive(format.duration)
  if (durationSeconds == null) {
    // Some demuxers only know per-stream durations
    const perStream = [videoStream, audioStream].map(s => positive(s?.duration)).filter((d): d is number => d != null)
    durationSeconds = perStream.length > 0 ? Math.max(...perStream) : undefined
  }
  if (durationSeconds == null) throw new InvalidMediaError('has no duration (truncated or still being written?)')

  const result: ProbeResult = { durationSeconds, sizeBytes: positive(format.size) ?? sizeBytes, formatName }
  const bitRate = positive(format.bit_rate)
  if (bitRate != null) result.bitRate = Math.round(bitRate)
  if (videoStream != null) result.video = videoInfo(videoStream)
  if (audioStream != null) result.audio = audioInfo(audioStream)
  return result
}

/**
 * The presentation times (seconds, ascending) of the keyframes of the first video stream.
 * Reads packets only (no decoding), so it is fast even for long files.
 */
export async function probeKeyframes (ffprobePath: string, filePath: string, options: ProbeOptions = {}): Promise<number[]> {
  const absolute = await checkInput(filePath)
  const args = ['-v', 'error', ...SOURCE_INPUT_ARGS, '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags',
    '-of', 'csv=print_section=0', `file:${absolute}`]
  // Streamed line by line: a two-hour film has hundreds of thousands of packets
  const command = (options.launcher ?? UNTIED_LAUNCHER).command(ffprobePath, args)
  const child = spawn(command.file, command.args, { signal: options.signal, timeout: options.timeoutMs ?? KEYFRAMES_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => { if (stderr.length < 4096) stderr += chunk })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => { resolve({ code, signal }) })
  })
  // Awaited below, after the output is read; this only keeps an early failure from counting as unhandled
  exited.catch(() => {})
  const times: number[] = []
  for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
    const [pts, flags] = line.split(',')
    if (flags?.includes('K') !== true) continue
    const time = Number(pts)
    if (pts !== '' && Number.isFinite(time)) times.push(time)
  }
  const { code, signal } = await exited
  options.signal?.throwIfAborted()
  if (signal != null) throw new InvalidMediaError(`reading keyframes did not finish (${signal})`)
  if (code !== 0) throw unreadable(stderr, absolute)
  return times.sort((a, b) => a - b)
}

/** Resolves the path and refuses missing, non-regular and empty files before ffprobe sees them. */
async function checkInput (filePath: string): Promise<string> {
  const absolute = resolve(filePath)
  let info
  try {
    info = await stat(absolute)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new PathNotFoundError('no such file')
    }
    throw err
  }
  if (!info.isFile()) throw new InvalidPathError('not a regular file')
  if (info.size === 0) throw new InvalidMediaError('the file is empty')
  return absolute
}

/** Why ffprobe could not read a file: a container that is not a source's, or its first line of complaint. */
function unreadable (stderr: string, absolute: string): InvalidMediaError {
  const demuxer = refusedDemuxer(stderr)
  if (demuxer != null && IMAGE_FORMAT.test(demuxer)) return new InvalidMediaError(`a still image (${demuxer}) is not media`)
  if (demuxer != null) return new InvalidMediaError(`${demuxer} is not a source container format`)
  return new InvalidMediaError(`not a readable media file${reason(stderr, absolute)}`)
}

/** One short line from ffprobe's stderr, without the path or the demuxer's address prefix. */
function reason (stderr: string, absolute: string): string {
  const line = stderr.split('\n')
    .map(l => l.split(`file:${absolute}`).join('').split(absolute).join('')
      .replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/, '').replace(/^:\s*/, '').trim())
    .find(l => l !== '')
  if (line == null) return ''
  return ` (${line.length > 100 ? `${line.slice(0, 97)}...` : line})`
}

function isMovingVideo (s: FfprobeStream): boolean {
  if (s.codec_type !== 'video' || s.codec_name == null || s.pix_fmt == null) return false
  if ((s.width ?? 0) <= 0 || (s.height ?? 0) <= 0) return false
  // Cover art in audio files and similar attached stills
  if (s.disposition?.attached_pic === 1 || s.disposition?.still_image === 1) return false
  if (frameRate(s) <= 0) return false
  if (IMAGE_CODECS.has(s.codec_name)) {
    const frames = positive(s.nb_frames)
    if (frames != null) return frames > 1
    const duration = positive(s.duration)
    return duration != null && duration >= 2 / frameRate(s)
  }
  return true
}

function isDecodableAudio (s: FfprobeStream): boolean {
  return s.codec_type === 'audio' && s.codec_name != null && (positive(s.sample_rate) ?? 0) > 0 && (s.channels ?? 0) > 0
}

function videoInfo (s: FfprobeStream): VideoStreamInfo {
  const info: VideoStreamInfo = {
    codec: s.codec_name as string,
    width: s.width as number,
    height: s.height as number,
    fps: Math.round(frameRate(s) * 1000) / 1000,
    pixFmt: s.pix_fmt as string,
    rotation: rotation(s)
  }
  if (s.profile != null && s.profile !== '' && s.profile !== 'unknown') info.profile = String(s.profile)
  const bitRate = positive(s.bit_rate)
  if (bitRate != null) info.bitRate = Math.round(bitRate)
  return info
}

function audioInfo (s: FfprobeStream): AudioStreamInfo {
  const info: AudioStreamInfo = { codec: s.codec_name as string, channels: s.channels as number, sampleRate: positive(s.sample_rate) as number }
  const bitRate = positive(s.bit_rate)
  if (bitRate != null) info.bitRate = Math.round(bitRate)
  return info
}

function frameRate (s: FfprobeStream): number {
  return ratio(s.avg_frame_rate) ?? ratio(s.r_frame_rate) ?? 0
}

function ratio (value: string | undefined): number | undefined {
  const [num, den] = (value ?? '').split('/').map(Number)
  if (num == null || den == null || !Number.isFinite(num) || !Number.isFinite(den) || num <= 0 || den <= 0) return undefined
  return num / den
}

function rotation (s: FfprobeStream): number {
  // Display-matrix side data is counterclockwise (ffprobe prints av_display_rotation_get); the tag is clockwise
  const matrix = s.side_data_list?.find(d => typeof d.rotation === 'number')?.rotation
  const degrees = matrix != null ? -matrix : Number(s.tags?.rotate ?? 0)
  if (!Number.isFinite(degrees)) return 0
  // Snap to quarter turns: players and the transcoder only handle those
  return ((Math.round(degrees / 90) * 90) % 360 + 360) % 360
}

function positive (value: string | number | undefined): number | undefined {
  if (value == null || value === '' || value === 'N/A') return undefined
  const n = Number(value)
  return Number.isFinite(n) && n > 0 ? n : undefined
}

/** The part of ffprobe's `-print_format json -show_format -show_streams` output this module reads. */
export interface FfprobeJson {
  format?: { format_name?: string, duration?: string, size?: string, bit_rate?: string }
  streams?: FfprobeStream[]
}

export interface FfprobeStream {
  codec_type?: string
  codec_name?: string
  profile?: string | number
  width?: number
  height?: number
  pix_fmt?: string
  avg_frame_rate?: string
  r_frame_rate?: string
  duration?: string
  nb_frames?: string
  bit_rate?: string
  channels?: number
  sample_rate?: string
  disposition?: Record<string, number>
  tags?: Record<string, string>
  side_data_list?: Array<{ side_data_type?: string, rotation?: number }>
}
