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
