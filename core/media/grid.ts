import { createHash } from 'node:crypto'

/** Seconds per segment on the fixed grid. Short segments give a fast first frame and fast seeks. */
export const SEGMENT_SECONDS = 2

/** Where each segment of a rendition starts and how long it lasts, in seconds. */
export interface SegmentGrid {
  readonly starts: readonly number[]
  readonly durations: readonly number[]
}

/** The fixed grid for a transcoded rendition: segment n covers [n*S, (n+1)*S). */
export function fixedGrid (durationSeconds: number, segmentSeconds = SEGMENT_SECONDS): SegmentGrid {
  // a sliver under 50 ms at the end holds at most a frame: fold it into the previous segment
  const count = Math.max(1, Math.ceil((durationSeconds - 0.05) / segmentSeconds))
  const starts: number[] = []
  const durations: number[] = []
  for (let n = 0; n < count; n++) {
    starts.push(n * segmentSeconds)
    durations.push(n === count - 1 ? Math.max(0.001, durationSeconds - n * segmentSeconds) : segmentSeconds)
  }
  return { starts, durations }
}

/**
 * The grid for a remuxed rendition: a segment starts at the first source keyframe at or after each
 * multiple of S, since copied video can only be cut at its own keyframes.
 */
export function keyframeGrid (durationSeconds: number, keyframes: readonly number[], segmentSeconds = SEGMENT_SECONDS): SegmentGrid {
  const sorted = [...keyframes].filter(t => Number.isFinite(t) && t >= 0 && t < durationSeconds).sort((a, b) => a - b)
  const starts: number[] = []
  let next = 0
  for (const t of sorted) {
    if (starts.length === 0 || t >= next - 1e-3) {
      starts.push(starts.length === 0 ? 0 : t)
      next = Math.max(t + segmentSeconds * 0.5, Math.floor(t / segmentSeconds + 1e-6) * segmentSeconds + segmentSeconds)
    }
  }
  if (starts.length === 0) starts.push(0)
  const durations = starts.map((s, i) => (i + 1 < starts.length ? starts[i + 1] : durationSeconds) - s)
  return { starts, durations }
}

/** The key of a rendition: a hash of (source CID, profile, encoder fingerprint). */
export function renditionKey (sourceCid: string, profile: string, fingerprint: string): string {
  return createHash('sha256').update(`${sourceCid}\n${profile}\n${fingerprint}`).digest('hex').slice(0, 32)
}
