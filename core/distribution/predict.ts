/*
 * Predictive pre-caching (issue 13, item 4): a viewer who passes `precacheAt` of a title is likely to start the next
 * one (the metadata's next episode, first of the next season, next movie of the collection) soon after; the first
 * `precacheSeconds` of it go to the node that viewer uses, so the next start is local. The main server and the
 * simulator both ask these two questions.
 */

/** Whether a viewer moving from `before` to `now` (seconds) crossed the share `at` (0-1) of a title of `duration` s. */
export function crossedPrecache (before: number | null, now: number, duration: number, at: number): boolean {
  if (!(duration > 0)) return false
  const mark = duration * at
  return now >= mark && (before == null || before < mark)
}

/** How many segments of `segmentSeconds` cover the first `seconds` of a title (at least one when seconds > 0). */
export function precacheSegments (seconds: number, segmentSeconds: number): number {
  if (!(seconds > 0) || !(segmentSeconds > 0)) return 0
  return Math.max(1, Math.ceil(seconds / segmentSeconds))
}

/**
 * The two points of a title where its next one may be pre-cached. At `early` (precacheAt) there is time to fetch
 * more, but more of the viewers who pass it stop before the end; at `late` (precacheLateAt) fewer bytes are
 * ordered for viewers who will not come.
 */
export type PrecacheMark = 'early' | 'late'

/** The settings the marks read (the `distribution` section's pre-cache fields). */
export interface PrecacheMarks {
  precacheAt: number
  precacheLateAt: number
  precacheEarlyShare: number
  precacheMinShare: number
}

/** The marks a viewer moving from `before` to `now` (seconds) of a title of `duration` s crossed, earliest first. */
export function crossedMarks (before: number | null, now: number, duration: number, p: PrecacheMarks): PrecacheMark[] {
  const marks: PrecacheMark[] = []
  if (crossedPrecache(before, now, duration, p.precacheAt)) marks.push('early')
  if (p.precacheLateAt > p.precacheAt && crossedPrecache(before, now, duration, p.precacheLateAt)) marks.push('late')
  return marks
}

/**
 * Whether to pre-cache at `mark`, where `share` (0-1) of the viewers who crossed that mark of this kind of title went
 * on to the next one: early only where nearly all do (the waste of those who stop is small), late where most do.
 * With one mark (precacheLateAt = precacheAt) the early mark asks only precacheMinShare.
 */
export function precacheWanted (mark: PrecacheMark, share: number, p: PrecacheMarks): boolean {
  const bar = mark === 'early' && p.precacheLateAt > p.precacheAt ? Math.max(p.precacheEarlyShare, p.precacheMinShare) : p.precacheMinShare
  return share >= bar
}
