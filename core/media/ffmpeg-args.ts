import { isAbsolute, join } from 'node:path'
import { INIT_NAME } from '../hls/index.ts'
import { SOURCE_INPUT_ARGS } from './source-input.ts'
import type { RenditionPlan } from './profiles.ts'

/** Settings of the encoder that change the bytes it makes: part of every rendition's fingerprint. */
export const ENCODER_SETTINGS = 'x264:veryfast:zerolatency:crf23;aac;fmp4;v1'

/** What one ffmpeg session makes. */
export interface SessionArgsInit {
  /** Absolute path of the source file. */
  input: string
  plan: RenditionPlan
  /** Segment the session starts at, and the time it starts at (seconds on the source's timeline). */
  startIndex: number
  startSeconds: number
  segmentSeconds: number
  /** Folder the session writes into (absolute). */
  outDir: string
  /** Major version of the ffmpeg binary: 4.x lacks `hls_segment_options`. */
  ffmpegMajor: number
}

/** Name ffmpeg gives each output piece: `p<number>.m4s`. */
export const PIECE_PATTERN = /^p(\d+)\.m4s$/
export const SESSION_PLAYLIST = 'session.m3u8'

function num (value: number, what: string): string {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${what} must be a finite number >= 0`)
  return String(value)
}

/**
 * The argv of one HLS session. Never run through a shell; every value is a number or a constant of ours,
 * and the input is read through the `file` protocol and the source demuxers only (source-input.ts), so a name like
 * `-i` or `concat:` is just a name and a file holding an ffconcat list or a playlist is refused.
 */
export function sessionArgs (init: SessionArgsInit): string[] {
  const { plan, outDir } = init
  if (!isAbsolute(init.input) || !isAbsolute(outDir)) throw new RangeError('paths must be absolute')
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-y', ...SOURCE_INPUT_ARGS]
  if (init.startSeconds > 0) {
    // a copied stream can only start on a keyframe: aim just after it so the seek lands on it, not the one before
    const at = plan.mode === 'remux' ? init.startSeconds + 0.001 : init.startSeconds
    args.push('-ss', num(Number(at.toFixed(6)), 'startSeconds'))
  }
  args.push('-i', `file:${init.input}`)
  // keep source timestamps so segment n carries the same decode times whichever session made it
  // (not -start_at_zero: it shifts by the first timestamp of the run, the seek point or the audio priming)
  args.push('-copyts', '-avoid_negative_ts', 'disabled', '-map_metadata', '-1', '-map_chapters', '-1')
  if (plan.mode === 'audio') {
    args.push('-map', '0:a:0', '-vn')
  } else {
    args.push('-map', '0:v:0', '-map', '0:a:0?', '-sn', '-dn')
  }
  if (plan.mode === 'remux') {
    args.push('-c', 'copy')
  } else if (plan.mode === 'transcode') {
    const kbps = plan.profile.videoKbps
    args.push(
      '-vf', `scale=${num(plan.width, 'width')}:${num(plan.height, 'height')}:flags=bicubic,setsar=1,format=yuv420p`,
      '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'high',
      '-crf', '23', '-maxrate', `${num(kbps, 'videoKbps')}k`, '-bufsize', `${num(kbps * 2, 'bufsize')}k`,
      // keyframes only on the grid: each cut lands exactly on a segment boundary
      '-g', '100000', '-keyint_min', '1', '-sc_threshold', '0',
      '-force_key_frames', `expr:gte(t,n_forced*${num(init.segmentSeconds, 'segmentSeconds')})`
    )
  }
  if (plan.mode !== 'remux') {
    args.push('-c:a', 'aac', '-b:a', `${num(plan.profile.audioKbps, 'audioKbps')}k`, '-ac', '2', '-ar', '48000')
  }
  // video: cut at every keyframe (only grid keyframes exist, or each source GOP when copying);
  // audio-only: cut on the grid itself
  const hlsTime = plan.mode === 'audio' ? init.segmentSeconds : 0.05
  args.push(
    '-f', 'hls', '-hls_time', String(hlsTime), '-hls_segment_type', 'fmp4',
    '-hls_fmp4_init_filename', INIT_NAME, '-hls_list_size', '0', '-hls_playlist_type', 'event',
    '-hls_flags', 'temp_file', '-start_number', '0'
  )
  // frag_discont makes each fragment's decode time (tfdt) the packet's own timestamp instead of one rebased
  // to the run's start, so segment n carries the same times and the same init segment whichever run made it.
  // (ffmpeg 4.x has no hls_segment_options: there a rendition is best made by one run.)
  if (init.ffmpegMajor >= 5) args.push('-hls_segment_options', 'movflags=+frag_discont')
  args.push('-hls_segment_filename', join(outDir, 'p%d.m4s'), join(outDir, SESSION_PLAYLIST))
  return args
}
