/*
 * What a cidcast node does with its cache on its own, between the main server's plans: it keeps the chunks it served
 * by fallback in the room its automatic copies leave, and the chunks pre-cached for a viewer's next episode. Room is
 * made by dropping, in order: pre-cached chunks nobody came for within `staleMs`, kept chunks of lowest value
 * (decayed count of this node's requests for them), then the oldest pre-cached chunks.
 */

/** One node's kept and pre-cached chunks (automatic copies are whole titles, held by the runner). */
export class NodeCache {
  /** chunk -> value as a time-invariant score: log2(decayed count) + t / halfLife */
  readonly kept = new Map<number, number>()
  /** chunk -> when pre-cached (ms), oldest first */
  readonly prefetched = new Map<number, number>()
  private heapKeys = new Float64Array(64)
  private heapValues = new Int32Array(64)
  private heapSize = 0

  constructor (private readonly halfLifeMs: number, private readonly staleMs: number) {}

  get size (): number {
    return this.kept.size + this.prefetched.size
  }

  has (chunk: number): boolean {
    return this.kept.has(chunk) || this.prefetched.has(chunk)
  }

  /** Counts a request for a kept chunk at `now` (ms). */
  touch (chunk: number, now: number): void {
    const score = this.kept.get(chunk)
    if (score == null) return
    const base = now / this.halfLifeMs
    this.setScore(chunk, Math.log2(Math.pow(2, score - base) + 1) + base)
  }

  /** Keeps a chunk just served (its first request). */
  keep (chunk: number, now: number): void {
    this.setScore(chunk, now / this.halfLifeMs)
  }

  /** Removes a chunk (it became part of an automatic copy, or was dropped); whether it was pre-cached and unwatched. */
  remove (chunk: number): boolean {
    this.kept.delete(chunk)
    return this.prefetched.delete(chunk)
  }

  /**
   * Drops one chunk to make room at `now`; returns it and whether it was a pre-cached chunk never watched,
   * or undefined when there is nothing to drop.
   */
  dropOne (now: number): { chunk: number, unwatched: boolean } | undefined {
    const oldest = this.prefetched.entries().next().value
    if (oldest != null && now - oldest[1] >= this.staleMs) {
      this.prefetched.delete(oldest[0])
      return { chunk: oldest[0], unwatched: true }
    }
    if (this.kept.size > 0) {
      if (this.heapSize > 4 * this.kept.size + 64) this.rebuild()
      for (;;) {
        const chunk = this.heapValues[0]
        const valid = this.kept.get(chunk) === this.heapKeys[0]
        this.pop()
        if (valid) {
          this.kept.delete(chunk)
          return { chunk, unwatched: false }
        }
      }
    }
    if (oldest != null) {
      this.prefetched.delete(oldest[0])
      return { chunk: oldest[0], unwatched: true }
    }
    return undefined
  }

  private setScore (chunk: number, score: number): void {
    this.kept.set(chunk, score)
    this.push(score, chunk)
  }

  private rebuild (): void {
    this.heapSize = 0
    for (const [chunk, score] of this.kept) this.push(score, chunk)
  }

  private push (key: number, value: number): void {
    if (this.heapSize === this.heapKeys.length) {
      const keys = new Float64Array(this.heapSize * 2)
      const values = new Int32Array(this.heapSize * 2)
      keys.set(this.heapKeys)
      values.set(this.heapValues)
      this.heapKeys = keys
      this.heapValues = values
    }
    let i = this.heapSize++
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.heapKeys[parent] <= key) break
      this.heapKeys[i] = this.heapKeys[parent]
      this.heapValues[i] = this.heapValues[parent]
      i = parent
    }
    this.heapKeys[i] = key
    this.heapValues[i] = value
  }

  private pop (): void {
    const last = --this.heapSize
    const key = this.heapKeys[last]
    const value = this.heapValues[last]
    let i = 0
    for (;;) {
      let child = 2 * i + 1
      if (child >= last) break
      if (child + 1 < last && this.heapKeys[child + 1] < this.heapKeys[child]) child++
      if (this.heapKeys[child] >= key) break
      this.heapKeys[i] = this.heapKeys[child]
      this.heapValues[i] = this.heapValues[child]
      i = child
    }
    this.heapKeys[i] = key
    this.heapValues[i] = value
  }
}
