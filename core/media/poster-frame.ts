import { execFile } from 'node:child_process'
import { isAbsolute } from 'node:path'
import { CidcastError } from '../errors.ts'
import { UNTIED_LAUNCHER } from './child-launcher.ts'
import { SOURCE_INPUT_ARGS } from './source-input.ts'
import type { ChildLauncher } from './child-launcher.ts'
import type { ProbeResult } from './probe.ts'

/*
 * A poster for a video that has no artwork: one frame at a tenth of its length (past the titles and the black
 * of the first seconds, as Jellyfin and Plex take theirs), scaled to a poster's width, as a JPEG. One ffmpeg
 * run per frame, argv only (never a shell), the input read through the `file` protocol and source demuxers alone.
 */

/** ffmpeg gave no frame: the file is gone, unreadable, or has no picture at the times asked. */
export class PosterFrameError extends CidcastError {
  override readonly name = 'PosterFrameError'
}

/** Where in the video the frame is taken, as a share of its duration. */
export const FRAME_AT_SHARE = 0.1
/** Widest frame kept, in pixels; a narrower video keeps its own width. */
export const FRAME_WIDTH_PX = 480
/** mjpeg's quantiser scale: 2 (best) to 31; 3 keeps a 480 px frame near 15-30 KB. */
const JPEG_QUALITY = 3
const FRAME_TIMEOUT_MS = 30_000
const MAX_FRAME_BYTES = 4 * 1024 * 1024

/** The media a frame is taken of (a catalog record fits). */
export interface FrameSource {
  /** Absolute path of the source file. */
  path: string
  durationSeconds: number
  /** The probe summary kept with the media. */
  probe: unknown
}

export interface PosterFrameArgsInit {
  /** Absolute path of the source file. */
  input: string
  atSeconds: number
  widthPx: number
}

function num (value: number, what: string): string {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${what} must be a finite number >= 0`)
  return String(value)
}

/**
 * The argv of one frame grab: input seek (`-ss` before `-i`, so only the GOP around the time is decoded), the
 * first video stream, square pixels, at most `widthPx` wide with an even height, one JPEG on stdout.
 */
export function posterFrameArgs (init: PosterFrameArgsInit): string[] {
  if (!isAbsolute(init.input)) throw new RangeError('the input path must be absolute')
  const width = num(Math.round(init.widthPx / 2) * 2, 'widthPx')
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', ...SOURCE_INPUT_ARGS,
    '-ss', num(Number(init.atSeconds.toFixed(3)), 'atSeconds'), '-i', `file:${init.input}`,
    '-map', '0:v:0', '-frames:v', '1', '-an', '-sn', '-dn', '-map_metadata', '-1',
    // anamorphic sources are stretched to square pixels first, so the frame has the shape the player shows
    '-vf', `scale=trunc(iw*sar/2)*2:ih,scale=min(${width}\\,iw):-2:flags=bicubic,setsar=1`,
    '-c:v', 'mjpeg', '-q:v', String(JPEG_QUALITY), '-f', 'image2pipe', 'pipe:1'
  ]
}

export interface PosterFramesComponents {
  /** Absolute path of ffmpeg (core/media/ffmpeg-binary.ts). */
  ffmpeg: string
  /** How ffmpeg is started: tied to the server's life (child-launcher.ts). @default started as it is */
  launcher?: ChildLauncher
  /** Called once per ffmpeg run that gave a frame (for metrics). */
  onTaken?: () => void
}

export interface PosterFramesInit {
  /** @default FRAME_WIDTH_PX */
  widthPx?: number
  /** @default FRAME_AT_SHARE */
  atShare?: number
  /** Longest an ffmpeg run may take. @default 30_000 */
  timeoutMs?: number
}

export interface PosterFrames {
  /** What the frames depend on besides the source's bytes: a stored frame made with other settings is not reused. */
  readonly settings: string
  /** Whether the media has a moving picture to take a frame of (not audio-only). */
  hasPicture: (media: FrameSource) => boolean
  /** One JPEG frame of the media; throws PosterFrameError when ffmpeg gives none. */
  take: (media: FrameSource, options?: { signal?: AbortSignal }) => Promise<Uint8Array>
}

/** Creates the poster frame taker on a resolved ffmpeg. */
export function createPosterFrames (components: PosterFramesComponents, init: PosterFramesInit = {}): PosterFrames {
  const widthPx = init.widthPx ?? FRAME_WIDTH_PX
  const atShare = init.atShare ?? FRAME_AT_SHARE
  const timeoutMs = init.timeoutMs ?? FRAME_TIMEOUT_MS

  async function grab (input: string, atSeconds: number, signal?: AbortSignal): Promise<Uint8Array> {
    const command = (components.launcher ?? UNTIED_LAUNCHER).command(components.ffmpeg, posterFrameArgs({ input, atSeconds, widthPx }))
    return await new Promise((resolve, reject) => {
      execFile(command.file, command.args, { encoding: 'buffer', signal, timeout: timeoutMs, maxBuffer: MAX_FRAME_BYTES }, (err, stdout, stderr) => {
        if (err?.name === 'AbortError') { reject(err); return }
        if (err != null) {
          const line = stderr.toString('utf8').split('\n').map(l => l.split(input).join('<input>').trim()).find(l => l !== '') ?? err.message
          reject(new PosterFrameError(`ffmpeg gave no frame: ${line.slice(0, 160)}`))
          return
        }
        resolve(new Uint8Array(stdout.buffer, stdout.byteOffset, stdout.byteLength))
      })
    })
  }

  return {
    settings: `jpeg:${widthPx}px:${atShare}:q${JPEG_QUALITY}`,

    hasPicture (media) {
      return (media.probe as Partial<ProbeResult> | null)?.video != null
    },

    async take (media, options = {}) {
      const at = Math.max(0, media.durationSeconds * atShare)
      let bytes = await grab(media.path, at, options.signal)
      // a duration longer than the picture (a stream that ends early) seeks past the last frame: take the first
      if (bytes.byteLength === 0 && at > 0) bytes = await grab(media.path, 0, options.signal)
      if (bytes.byteLength === 0) throw new PosterFrameError('ffmpeg gave no frame: the video has no picture to take')
      components.onTaken?.()
      return bytes
    }
  }
}
