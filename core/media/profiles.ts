import type { ProbeResult } from './probe.ts'

/** One rung of the ladder: H.264/AAC at a given short side (height for landscape sources). */
export interface Profile {
  /** Stable name used in URLs and rendition keys, e.g. `720p` or `audio`. */
  readonly name: string
  /** Short side of the picture in pixels; 0 for audio-only. */
  readonly shortSide: number
  /** Peak video bitrate in kbit/s (VBV maxrate). */
  readonly videoKbps: number
  readonly audioKbps: number
}

/** The standard ladder, best first. Never encoded above the source. */
export const LADDER: readonly Profile[] = Object.freeze([
  { name: '1080p', shortSide: 1080, videoKbps: 6000, audioKbps: 160 },
  { name: '720p', shortSide: 720, videoKbps: 3000, audioKbps: 128 },
  { name: '480p', shortSide: 480, videoKbps: 1400, audioKbps: 128 },
  { name: '360p', shortSide: 360, videoKbps: 800, audioKbps: 96 }
])

export const AUDIO_PROFILE: Profile = Object.freeze({ name: 'audio', shortSide: 0, videoKbps: 0, audioKbps: 160 })

/** How a rendition is made from its source. */
export type RenditionMode = 'transcode' | 'remux' | 'audio'

/** A profile applied to one source: output size and how it is made. */
export interface RenditionPlan {
  readonly profile: Profile
  readonly mode: RenditionMode
  /** Output picture size (even numbers); 0 for audio-only. */
  readonly width: number
  readonly height: number
  /** Nominal bandwidth for the master playlist, bits/s. */
  readonly bandwidth: number
  /** RFC 6381 codecs string for the master playlist. */
  readonly codecs: string
}

/** The source picture size as displayed, after the rotation ffmpeg applies on decode. */
export function displaySize (probe: ProbeResult): { width: number, height: number } | undefined {
  const v = probe.video
  if (v == null) return undefined
  const quarter = Math.abs(Math.round((v.rotation ?? 0) / 90)) % 2 === 1
  return quarter ? { width: v.height, height: v.width } : { width: v.width, height: v.height }
}

function even (n: number): number {
  return Math.max(2, Math.round(n / 2) * 2)
}

/** H.264 level for a picture size, as the RFC 6381 avc1 suffix; high profile (0x64). */
function avcCodec (width: number, height: number): string {
  const mbs = Math.ceil(width / 16) * Math.ceil(height / 16)
  const level = mbs <= 1620 ? 0x1e : mbs <= 3600 ? 0x1f : mbs <= 8192 ? 0x28 : 0x33
  return `avc1.6400${level.toString(16)}`
}

const AAC_CODEC = 'mp4a.40.2'

/** True when the source can be copied into HLS unchanged for the profile of its own size. */
function canRemux (probe: ProbeResult): boolean {
  const v = probe.video
  if (v == null || v.codec !== 'h264' || v.pixFmt !== 'yuv420p') return false
  if ((v.rotation ?? 0) !== 0) return false
  if (probe.audio != null && probe.audio.codec !== 'aac') return false
  return true
}

/**
 * The renditions offered for a source: every ladder rung not above it (or one at its own size), best first. Their
 * names match core/hls's `PROFILE_NAME_PATTERN`, which the routes check URLs against.
 */
export function planLadder (probe: ProbeResult): RenditionPlan[] {
  const size = displaySize(probe)
  if (size == null) {
    if (probe.audio == null) return []
    return [{ profile: AUDIO_PROFILE, mode: 'audio', width: 0, height: 0, bandwidth: AUDIO_PROFILE.audioKbps * 1000, codecs: AAC_CODEC }]
  }
  const short = Math.min(size.width, size.height)
  const rungs = LADDER.filter(p => p.shortSide <= short)
  if (rungs.length === 0) {
    const own = LADDER[LADDER.length - 1]
    rungs.push({ ...own, name: `${even(short)}p`, shortSide: even(short) })
  }
  const remuxable = canRemux(probe)
  return rungs.map(profile => {
    const scale = profile.shortSide / short
    const width = even(size.width * scale)
    const height = even(size.height * scale)
    const sameSize = width === size.width && height === size.height
    const mode: RenditionMode = remuxable && sameSize ? 'remux' : 'transcode'
    const sourceKbps = (probe.video?.bitRate ?? 0) / 1000
    const videoKbps = mode === 'remux' && sourceKbps > 0 ? sourceKbps : profile.videoKbps
    const hasAudio = probe.audio != null
    return {
      profile,
      mode,
      width,
      height,
      bandwidth: Math.round((videoKbps + (hasAudio ? profile.audioKbps : 0)) * 1000 * 1.1),
      codecs: hasAudio ? `${avcCodec(width, height)},${AAC_CODEC}` : avcCodec(width, height)
    }
  })
}
