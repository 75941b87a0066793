import { addDecayed, valueAt } from './decay.ts'
import type { Decayed } from './decay.ts'

/*
 * How often viewers go on to the next title (issue 13, item 4), learned from what they do: of the viewers who crossed
 * `precacheAt` of a title of a group (a series, a collection), how many started its next title within the window.
 * Pre-caching the next title where few go on to it is waste (pre-cached bytes never watched); where most do, it makes
 * their next start local. Counts decay like demand, so a group's habit is re-learned when it changes. A group never
 * seen yet is given the benefit of the doubt (the prior), so pre-caching starts at once and learns from there.
 */

export interface ContinuationsInit {
  halfLifeMs: number
  /** How long after crossing a viewer's start of the next title counts as going on. */
  windowMs: number
}

export interface Continuations {
  /** `viewer` crossed the pre-cache threshold of a title of `group` whose next title is `next`. */
  crossed (viewer: string, group: string, next: string, at: number): void
  /** `viewer` started `title`: going on, when it is the next of the title they crossed within the window. */
  started (viewer: string, title: string, at: number): void
  /** The estimated share (0-1) of crossings in `group` followed by a start of the next title. */
  share (group: string, at: number): number
  /** Forgets viewers whose crossing is outside the window (memory stays bounded). */
  prune (at: number): void
}

/** A never-seen group is assumed to go on as often as this, weighed as this many crossings. */
const PRIOR_SHARE = 1
const PRIOR_WEIGHT = 2

/** Creates an empty record. */
export function createContinuations (init: ContinuationsInit): Continuations {
  const crossings = new Map<string, Decayed>()
  const goneOn = new Map<string, Decayed>()
  /** viewer -> group -> what they crossed last in it (one viewer crosses several marks of a title, each its own group) */
  const pending = new Map<string, Map<string, { next: string, at: number }>>()
  return {
    crossed (viewer, group, next, at) {
      crossings.set(group, addDecayed(crossings.get(group), 1, at, init.halfLifeMs))
      let mine = pending.get(viewer)
      if (mine == null) pending.set(viewer, mine = new Map())
      mine.set(group, { next, at })
    },
    started (viewer, title, at) {
      const mine = pending.get(viewer)
      if (mine == null) return
      for (const [group, p] of mine) {
        if (p.next !== title || at < p.at || at - p.at > init.windowMs) continue
        mine.delete(group)
        goneOn.set(group, addDecayed(goneOn.get(group), 1, at, init.halfLifeMs))
      }
      if (mine.size === 0) pending.delete(viewer)
    },
    share (group, at) {
      const crossed = valueAt(crossings.get(group), at, init.halfLifeMs)
      const went = Math.min(crossed, valueAt(goneOn.get(group), at, init.halfLifeMs))
      return (went + PRIOR_SHARE * PRIOR_WEIGHT) / (crossed + PRIOR_WEIGHT)
    },
    prune (at) {
      for (const [viewer, mine] of pending) {
        for (const [group, p] of mine) if (at - p.at > init.windowMs) mine.delete(group)
        if (mine.size === 0) pending.delete(viewer)
      }
      for (const map of [crossings, goneOn]) {
        for (const [group, counter] of map) if (valueAt(counter, at, init.halfLifeMs) < 0.01) map.delete(group)
      }
    }
  }
}
