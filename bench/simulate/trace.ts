import { createRng, weightedSampler, zipfSampler } from './rng.ts'
import { online, REGIONS } from './world.ts'
import type { Rng } from './rng.ts'
import type { World } from './world.ts'

/*
 * The synthetic trace: viewing sessions (a daily cycle in each region's local time, Zipf popularity over works,
 * binge-watching from one episode or sequel to the next), each viewer on a node of their region (the nearest for
 * more of them), moving to another online node of the region while theirs is down. A session becomes one request
 * per chunk watched, at the moment the player needs it; the trace is those requests in time order, the same for
 * every policy.
 */

/** The request starts a title (a `play`). */
export const START = 1
/** The title is the next episode of the one just watched in the same session (a binge transition). */
export const BINGE = 2
/** The last chunk the viewer asks of this title. */
export const LAST = 4
/** The title is the sequel of the movie just watched in the same session. */
export const SEQUEL = 8

export interface TraceInit {
  /** Sessions a day per node. */
  sessionsPerNodeDay: number
  /** Zipf exponent of work popularity. */
  zipfAlpha: number
}

export const TRACE_DEFAULTS: TraceInit = { sessionsPerNodeDay: 40, zipfAlpha: 0.9 }

/** Requests in time order, column by column. */
export interface Trace {
  count: number
  /** Seconds from the start. */
  time: Float64Array
  node: Uint16Array
  chunk: Int32Array
  /** The session (its viewer). */
  viewer: Int32Array
  flags: Uint8Array
  sessions: number
}

/** Share of viewers who watch a title to its end; the others stop somewhere in it and end the session. */
const FINISH = 0.8
/** Having finished, the share who go on to the next episode / the sequel. */
const BINGE_SERIES = 0.85
const BINGE_SEQUEL = 0.5
/** Hours added to UTC for region r's local time: regions spread around the globe. */
const REGION_OFFSET_H = 24 / REGIONS

/** Generates the trace of `world` over its days. */
export function createTrace (world: World, init: TraceInit = TRACE_DEFAULTS): Trace {
  const rng = createRng(world.init.seed).fork(3)
  const { catalog, nodes } = world
  const horizon = world.init.days * 86_400
  const pickWork = zipfSampler(catalog.works.length, init.zipfAlpha)
  const pickNode = world.regionNodes.map(list => weightedSampler(list.map(i => nodes[i].weight)))
  const out = new Columns()
  const sessions = Math.round(init.sessionsPerNodeDay * nodes.length * world.init.days)
  for (let s = 0; s < sessions; s++) {
    const region = s % REGIONS
    const members = world.regionNodes[region]
    if (members.length === 0) continue
    let t = startTime(rng, region, world.init.days)
    let node = members[pickNode[region](rng)]
    const work = catalog.works[pickWork(rng)]
    // half the viewers of a series start at its beginning, the others where they left off
    let i = rng.chance(work.kind === 'series' ? 0.5 : 0.6) ? 0 : rng.int(0, work.titles.length - 1)
    let binge = false
    while (i < work.titles.length && t < horizon) {
      const title = work.titles[i]
      const duration = catalog.duration[title]
      const chunks = catalog.chunks[title]
      const finish = rng.chance(FINISH)
      const watched = finish ? duration : duration * (0.02 + 0.98 * rng.next())
      const chunkSeconds = duration / chunks
      const asked = Math.min(chunks, Math.ceil(watched / chunkSeconds))
      for (let c = 0; c < asked; c++) {
        const at = t + c * chunkSeconds
        if (at >= horizon) break
        if (!online(nodes[node], at)) node = otherNode(world, pickNode[region], region, node, at, rng)
        out.push(at, node, catalog.firstChunk[title] + c, s, (c === 0 ? START | (binge ? (work.kind === 'series' ? BINGE : SEQUEL) : 0) : 0) | (c === asked - 1 ? LAST : 0))
      }
      if (!finish || !rng.chance(work.kind === 'series' ? BINGE_SERIES : BINGE_SEQUEL)) break
      t += watched + rng.next() * 30
      binge = true
      i++
    }
  }
  return out.sorted(horizon, sessions)
}

/** A start time with the daily cycle of the region: most viewing in the evening, least before dawn. */
function startTime (rng: Rng, region: number, days: number): number {
  const day = Math.floor(rng.next() * days)
  for (;;) {
    const hour = rng.next() * 24
    const local = (hour + region * REGION_OFFSET_H) % 24
    if (rng.next() * 1.8 < 1 + 0.8 * Math.cos(2 * Math.PI * (local - 21) / 24)) return (day * 24 + hour) * 3600
  }
}

/** Another node of the region online at `at` (the viewer's goes down); the same one when none is. */
function otherNode (world: World, pick: (rng: Rng) => number, region: number, node: number, at: number, rng: Rng): number {
  const members = world.regionNodes[region]
  for (let tries = 0; tries < 20; tries++) {
    const other = members[pick(rng)]
    if (other !== node && online(world.nodes[other], at)) return other
  }
  for (const other of members) if (online(world.nodes[other], at)) return other
  return node
}

/** Growable columns, sorted by time at the end (a counting sort over whole seconds, stable). */
class Columns {
  private n = 0
  private time = new Float64Array(1 << 16)
  private node = new Uint16Array(1 << 16)
  private chunk = new Int32Array(1 << 16)
  private viewer = new Int32Array(1 << 16)
  private flags = new Uint8Array(1 << 16)

  push (time: number, node: number, chunk: number, viewer: number, flags: number): void {
    if (this.n === this.time.length) this.grow()
    const i = this.n++
    this.time[i] = time
    this.node[i] = node
    this.chunk[i] = chunk
    this.viewer[i] = viewer
    this.flags[i] = flags
  }

  sorted (horizon: number, sessions: number): Trace {
    const seconds = Math.ceil(horizon) + 1
    const starts = new Int32Array(seconds + 1)
    for (let i = 0; i < this.n; i++) starts[Math.floor(this.time[i]) + 1]++
    for (let s = 1; s <= seconds; s++) starts[s] += starts[s - 1]
    const trace: Trace = {
      count: this.n,
      time: new Float64Array(this.n),
      node: new Uint16Array(this.n),
      chunk: new Int32Array(this.n),
      viewer: new Int32Array(this.n),
      flags: new Uint8Array(this.n),
      sessions
    }
    for (let i = 0; i < this.n; i++) {
      const j = starts[Math.floor(this.time[i])]++
      trace.time[j] = this.time[i]
      trace.node[j] = this.node[i]
      trace.chunk[j] = this.chunk[i]
      trace.viewer[j] = this.viewer[i]
      trace.flags[j] = this.flags[i]
    }
    return trace
  }

  private grow (): void {
    const size = this.time.length * 2
    const grow = <T extends Float64Array | Uint16Array | Int32Array | Uint8Array>(a: T, b: T): T => { b.set(a); return b }
    this.time = grow(this.time, new Float64Array(size))
    this.node = grow(this.node, new Uint16Array(size))
    this.chunk = grow(this.chunk, new Int32Array(size))
    this.viewer = grow(this.viewer, new Int32Array(size))
    this.flags = grow(this.flags, new Uint8Array(size))
  }
}
