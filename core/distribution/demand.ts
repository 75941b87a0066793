import { addDecayed, valueAt } from './decay.ts'
import type { Decayed } from './decay.ts'

/*
 * Demand (issue 13, item 1): decayed play counts per title, per title and region, per title and node, and the
 * viewers who started a title through a node within a window. Plays are what the main server sees itself (a viewer
 * asking a play URL, or starting to stream from it), so a node cannot make content move by what it claims; the bytes
 * nodes report serving weigh only what that node itself keeps (`servedOn`).
 */

export interface DemandBoardInit {
  /** A score halves in this time. */
  halfLifeMs: number
  /** How long a viewer's start through a node counts for `viewersThrough`. */
  viewerWindowMs: number
}

/** A viewer starting a title: through a node (its id), or from the main server itself (`node: null`). */
export interface PlayEvent {
  /** Who (an account id, or any stable opaque id); counted once per node and window. */
  viewer: string
  title: string
  node: string | null
  region: string | null
  at: number
}

/** A node's report of bytes it served of one stored item (its key, e.g. a rendition root). */
export interface ServedEvent {
  node: string
  key: string
  bytes: number
  at: number
}

/** Decayed demand, read by the planner. */
export interface DemandBoard {
  play (event: PlayEvent): void
  served (event: ServedEvent): void
  /** Decayed plays of a title, everywhere. */
  plays (title: string, at: number): number
  /** Decayed plays of a title in a region (`null`: nodes with no region and the main server). */
  regionPlays (region: string | null, title: string, at: number): number
  /** Decayed plays of a title through a node. */
  nodePlays (node: string, title: string, at: number): number
  /** Decayed bytes a node served of an item. */
  servedOn (node: string, key: string, at: number): number
  /** Distinct viewers who started the title through the node within the window before `at`. */
  viewersThrough (node: string, title: string, at: number): number
  /** Nodes with plays of the title (for placement near its viewers). */
  nodesOf (title: string): Iterable<string>
  /** Nodes through which viewers started the title lately (within the window, or since the last prune): the few `viewersThrough` can count for. */
  startedThrough (title: string): Iterable<string>
  /** Titles with plays of at least `floor` at `at`, most played first. */
  titles (at: number, floor: number): Array<{ title: string, plays: number }>
  /** Forgets counters worth less than `floor` and viewers outside the window (memory stays bounded). */
  prune (at: number, floor?: number): void
}

/** Creates an empty board. */
export function createDemandBoard (init: DemandBoardInit): DemandBoard {
  return new Board(init)
}

const SEP = '\u0000'

class Board implements DemandBoard {
  private readonly half: number
  private readonly window: number
  private readonly byTitle = new Map<string, Decayed>()
  private readonly byRegion = new Map<string, Decayed>()
  private readonly byNode = new Map<string, Decayed>()
  private readonly bytes = new Map<string, Decayed>()
  /** title -> nodes with plays of it */
  private readonly titleNodes = new Map<string, Set<string>>()
  /** node + title -> viewer -> last start */
  private readonly starts = new Map<string, Map<string, number>>()
  /** title -> nodes with an entry in `starts` (the planner asks these instead of every node with plays) */
  private readonly startNodes = new Map<string, Set<string>>()

  constructor (init: DemandBoardInit) {
    if (!(init.halfLifeMs > 0)) throw new RangeError('halfLifeMs must be > 0')
    this.half = init.halfLifeMs
    this.window = init.viewerWindowMs
  }

  play (e: PlayEvent): void {
    this.byTitle.set(e.title, addDecayed(this.byTitle.get(e.title), 1, e.at, this.half))
    const region = (e.region ?? '') + SEP + e.title
    this.byRegion.set(region, addDecayed(this.byRegion.get(region), 1, e.at, this.half))
    if (e.node == null) return
    const key = e.node + SEP + e.title
    this.byNode.set(key, addDecayed(this.byNode.get(key), 1, e.at, this.half))
    let nodes = this.titleNodes.get(e.title)
    if (nodes == null) this.titleNodes.set(e.title, nodes = new Set())
    nodes.add(e.node)
    let viewers = this.starts.get(key)
    if (viewers == null) {
      this.starts.set(key, viewers = new Map())
      let started = this.startNodes.get(e.title)
      if (started == null) this.startNodes.set(e.title, started = new Set())
      started.add(e.node)
    }
    viewers.set(e.viewer, Math.max(viewers.get(e.viewer) ?? -Infinity, e.at))
  }

  served (e: ServedEvent): void {
    if (!(e.bytes > 0)) return
    const key = e.node + SEP + e.key
    this.bytes.set(key, addDecayed(this.bytes.get(key), e.bytes, e.at, this.half))
  }

  plays (title: string, at: number): number {
    return valueAt(this.byTitle.get(title), at, this.half)
  }

  regionPlays (region: string | null, title: string, at: number): number {
    return valueAt(this.byRegion.get((region ?? '') + SEP + title), at, this.half)
  }

  nodePlays (node: string, title: string, at: number): number {
    return valueAt(this.byNode.get(node + SEP + title), at, this.half)
  }

  servedOn (node: string, key: string, at: number): number {
    return valueAt(this.bytes.get(node + SEP + key), at, this.half)
  }

  viewersThrough (node: string, title: string, at: number): number {
    const viewers = this.starts.get(node + SEP + title)
    if (viewers == null) return 0
    let n = 0
    for (const when of viewers.values()) if (when > at - this.window && when <= at) n++
    return n
  }

  nodesOf (title: string): Iterable<string> {
    return this.titleNodes.get(title) ?? []
  }

  startedThrough (title: string): Iterable<string> {
    return this.startNodes.get(title) ?? []
  }

  titles (at: number, floor: number): Array<{ title: string, plays: number }> {
    const out: Array<{ title: string, plays: number }> = []
    for (const [title, counter] of this.byTitle) {
      const plays = valueAt(counter, at, this.half)
      if (plays >= floor) out.push({ title, plays })
    }
    return out.sort((a, b) => b.plays - a.plays || (a.title < b.title ? -1 : 1))
  }

  prune (at: number, floor = 0.01): void {
    for (const map of [this.byTitle, this.byRegion, this.byNode]) {
      for (const [key, counter] of map) if (valueAt(counter, at, this.half) < floor) map.delete(key)
    }
    for (const [key, counter] of this.bytes) if (valueAt(counter, at, this.half) < 1) this.bytes.delete(key)
    for (const [title, nodes] of this.titleNodes) {
      for (const node of nodes) if (!this.byNode.has(node + SEP + title)) nodes.delete(node)
      if (nodes.size === 0) this.titleNodes.delete(title)
    }
    for (const [key, viewers] of this.starts) {
      for (const [viewer, when] of viewers) if (when <= at - this.window) viewers.delete(viewer)
      if (viewers.size === 0) {
        this.starts.delete(key)
        const [node, title] = key.split(SEP)
        const started = this.startNodes.get(title)
        started?.delete(node)
        if (started?.size === 0) this.startNodes.delete(title)
      }
    }
  }
}
