import { CHUNK_BYTES } from './world.ts'
import { BINGE, SEQUEL } from './trace.ts'

/*
 * What every policy is measured by, counted the same way for all: bytes asked and served from the node's own cache
 * (the edge byte hit ratio), bytes sent by the origin (to viewers and to fill caches), bytes moved node to node,
 * evicted chunks, binge transitions that started from the node's cache, and an hourly hit ratio for the chart.
 */

/** One policy's figures, as printed and written to JSON. */
export interface PolicyResult {
  policy: string
  /** Bytes served from the viewer's node cache / bytes asked (0-1). */
  byteHitRatio: number
  requestedBytes: number
  hitBytes: number
  /** Every byte the origin sent: misses served from it, and cache fills from it. */
  originBytes: number
  /** Misses served by another node holding the content (cidcast nodes fetch from peers before the origin). */
  peerServedBytes: number
  /** Bytes moved node to node to fill caches (placements, pre-caching). */
  replicationBytes: number
  /** Bytes the origin sent only to fill caches (placements, pre-caching, read-ahead past where viewers stopped). */
  originFillBytes: number
  /** All bytes moved to fill caches: origin fill + replication. */
  fillBytes: number
  /** Chunks dropped from caches. */
  evictions: number
  evictedBytes: number
  /** Episodes started as the next of the one just watched in the same session. */
  bingeTransitions: number
  /** Share of binge transitions whose first chunk was on the viewer's node (0-1). */
  nextEpisodeLocalRatio: number
  /** Sequels started right after the movie before them, and the share of those whose first chunk was local (0-1). */
  sequelTransitions: number
  sequelLocalRatio: number
  /** Hit ratio per simulated hour (null: nothing asked that hour). */
  hourly: Array<number | null>
  /** Seconds the replay took. */
  seconds: number
  /** Policy-specific figures. */
  extra: Record<string, number | string>
}

/** Counts one policy's replay. */
export class Meter {
  requested = 0
  hit = 0
  origin = 0
  peerServed = 0
  replication = 0
  originFill = 0
  evictions = 0
  binge = 0
  bingeLocal = 0
  sequels = 0
  sequelsLocal = 0
  private readonly asked: Float64Array
  private readonly local: Float64Array
  private readonly started = performance.now()

  constructor (readonly policy: string, hours: number) {
    this.asked = new Float64Array(hours)
    this.local = new Float64Array(hours)
  }

  /** A chunk asked at `time` (s) with the trace's flags; `hit`: it was on the node. */
  serve (time: number, flags: number, hit: boolean): void {
    this.requested += CHUNK_BYTES
    const hour = Math.min(this.asked.length - 1, Math.floor(time / 3600))
    this.asked[hour] += CHUNK_BYTES
    if (hit) {
      this.hit += CHUNK_BYTES
      this.local[hour] += CHUNK_BYTES
    }
    if ((flags & BINGE) !== 0) {
      this.binge++
      if (hit) this.bingeLocal++
    }
    if ((flags & SEQUEL) !== 0) {
      this.sequels++
      if (hit) this.sequelsLocal++
    }
  }

  /** Bytes moved to fill a cache, from a peer or from the origin. */
  fill (bytes: number, fromPeer: boolean): void {
    if (fromPeer) this.replication += bytes
    else this.originFill += bytes
  }

  result (extra: Record<string, number | string> = {}): PolicyResult {
    const hourly: Array<number | null> = []
    for (let h = 0; h < this.asked.length; h++) hourly.push(this.asked[h] > 0 ? this.local[h] / this.asked[h] : null)
    return {
      policy: this.policy,
      byteHitRatio: this.requested > 0 ? this.hit / this.requested : 0,
      requestedBytes: this.requested,
      hitBytes: this.hit,
      originBytes: this.origin + this.originFill,
      peerServedBytes: this.peerServed,
      replicationBytes: this.replication,
      originFillBytes: this.originFill,
      fillBytes: this.originFill + this.replication,
      evictions: this.evictions,
      evictedBytes: this.evictions * CHUNK_BYTES,
      bingeTransitions: this.binge,
      nextEpisodeLocalRatio: this.binge > 0 ? this.bingeLocal / this.binge : 0,
      sequelTransitions: this.sequels,
      sequelLocalRatio: this.sequels > 0 ? this.sequelsLocal / this.sequels : 0,
      hourly,
      seconds: (performance.now() - this.started) / 1000,
      extra
    }
  }
}
