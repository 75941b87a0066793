import { createRng, shuffle } from './rng.ts'

/*
 * The simulated world: CDN nodes in regions (capacities from a log-normal distribution, up and down periods of
 * churn) and a catalog of series (seasons of episodes) and movies (collections with sequels), every title stored as
 * one rendition of a real ladder bitrate and cut into fixed-size chunks, so every node's cache is a whole number of
 * chunks and Belady's MIN is exact.
 */

export const GIB = 2 ** 30
/** Bytes of one chunk: the unit every policy caches, serves and counts. */
export const CHUNK_BYTES = 16 * 2 ** 20
export const REGIONS = 10
/** The ladder's bitrates (Mbit/s) and how often a title's watched rendition is each. */
const LADDER_MBPS = [1.5, 3, 6]
const LADDER_WEIGHTS = [0.25, 0.45, 0.3]

export interface WorldInit {
  seed: number
  nodes: number
  titles: number
  days: number
}

/** A node: its region, cache capacity and when it is online. */
export interface SimNode {
  id: string
  index: number
  region: number
  cacheBytes: number
  /** Capacity in chunks. */
  cacheChunks: number
  /** How many of its region's viewers pick it (the nearest for more of them). */
  weight: number
  /** Sorted times (s) at which it goes down, then up again, alternately; online at 0. */
  flips: number[]
}

/** A series or a collection of movies (a standalone movie is a collection of one). */
export interface Work {
  kind: 'series' | 'collection'
  /** Its titles in order: episodes across seasons, or movies. */
  titles: number[]
}

export interface Catalog {
  /** Per title: its work, duration (s), bytes (whole chunks), first chunk id, chunk count, next title (-1: none). */
  work: Int32Array
  duration: Float64Array
  bytes: Float64Array
  firstChunk: Int32Array
  chunks: Int32Array
  next: Int32Array
  /** Per chunk: its title. */
  titleOfChunk: Int32Array
  works: Work[]
  titleIds: string[]
  totalChunks: number
}

export interface World {
  init: WorldInit
  nodes: SimNode[]
  /** Node indexes per region. */
  regionNodes: number[][]
  regionIds: string[]
  catalog: Catalog
}

/** Builds nodes and catalog from the seed. */
export function createWorld (init: WorldInit): World {
  const nodes = createNodes(init)
  const regionNodes: number[][] = Array.from({ length: REGIONS }, () => [])
  for (const node of nodes) regionNodes[node.region].push(node.index)
  return { init, nodes, regionNodes, regionIds: Array.from({ length: REGIONS }, (_, r) => `region-${r}`), catalog: createCatalog(init) }
}

/** Whether a node is online at `t` (s). */
export function online (node: SimNode, t: number): boolean {
  const flips = node.flips
  let lo = 0
  let hi = flips.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (flips[mid] <= t) lo = mid + 1
    else hi = mid
  }
  return lo % 2 === 0
}

function createNodes (init: WorldInit): SimNode[] {
  const rng = createRng(init.seed).fork(1)
  const horizon = init.days * 86_400
  const nodes: SimNode[] = []
  for (let i = 0; i < init.nodes; i++) {
    const cacheBytes = Math.round(Math.min(500, Math.max(20, rng.logNormal(100, 0.8)))) * GIB
    // a fifth of the nodes are flaky (home machines: down for hours most days), the rest go down rarely and briefly
    const flaky = rng.chance(0.2)
    const meanUp = flaky ? 16 * 3600 : 5 * 86_400
    const meanDown = flaky ? 3 * 3600 : 1800
    const flips: number[] = []
    let t = rng.exponential(meanUp)
    while (t < horizon) {
      flips.push(t)
      t += rng.exponential(meanDown)
      flips.push(t)
      t += rng.exponential(meanUp)
    }
    nodes.push({ id: `node-${i}`, index: i, region: i % REGIONS, cacheBytes, cacheChunks: Math.floor(cacheBytes / CHUNK_BYTES), weight: rng.logNormal(1, 0.6), flips })
  }
  return nodes
}

function createCatalog (init: WorldInit): Catalog {
  const rng = createRng(init.seed).fork(2)
  const works: Work[] = []
  const durations: number[] = []
  const bitrates: number[] = []
  const workOf: number[] = []
  const add = (work: number, seconds: number, mbps: number): number => {
    durations.push(seconds)
    bitrates.push(mbps)
    workOf.push(work)
    return durations.length - 1
  }
  const ladder = (): number => {
    const x = rng.next()
    let sum = 0
    for (let i = 0; i < LADDER_MBPS.length; i++) if (x < (sum += LADDER_WEIGHTS[i])) return LADDER_MBPS[i]
    return LADDER_MBPS[LADDER_MBPS.length - 1]
  }
  while (durations.length < init.titles) {
    const w = works.length
    const mbps = ladder()
    const titles: number[] = []
    if (rng.chance(0.2)) {
      const seasons = Math.min(6, 1 + Math.floor(rng.exponential(1.2)))
      const base = rng.int(20, 60) * 60
      for (let s = 0; s < seasons; s++) {
        const episodes = rng.int(6, 13)
        for (let e = 0; e < episodes && durations.length < init.titles; e++) {
          titles.push(add(w, Math.min(3600, Math.max(1200, base * (0.9 + 0.2 * rng.next()))), mbps))
        }
      }
      works.push({ kind: 'series', titles })
    } else {
      const movies = rng.chance(0.7) ? 1 : rng.int(2, 5)
      for (let m = 0; m < movies && durations.length < init.titles; m++) titles.push(add(w, rng.int(80, 150) * 60, mbps))
      works.push({ kind: 'collection', titles })
    }
  }
  const n = durations.length
  const catalog: Catalog = {
    work: Int32Array.from(workOf),
    duration: Float64Array.from(durations),
    bytes: new Float64Array(n),
    firstChunk: new Int32Array(n),
    chunks: new Int32Array(n),
    next: new Int32Array(n).fill(-1),
    titleOfChunk: new Int32Array(0),
    works: shuffle(works, rng), // popularity rank is the order of this list
    titleIds: Array.from({ length: n }, (_, t) => `title-${t}`),
    totalChunks: 0
  }
  let chunk = 0
  for (let t = 0; t < n; t++) {
    // a title's last chunk is counted whole: every policy moves and stores whole chunks
    catalog.chunks[t] = Math.ceil(durations[t] * bitrates[t] * 1e6 / 8 / CHUNK_BYTES)
    catalog.bytes[t] = catalog.chunks[t] * CHUNK_BYTES
    catalog.firstChunk[t] = chunk
    chunk += catalog.chunks[t]
  }
  catalog.totalChunks = chunk
  catalog.titleOfChunk = new Int32Array(chunk)
  for (let t = 0; t < n; t++) catalog.titleOfChunk.fill(t, catalog.firstChunk[t], catalog.firstChunk[t] + catalog.chunks[t])
  for (const work of works) for (let i = 0; i + 1 < work.titles.length; i++) catalog.next[work.titles[i]] = work.titles[i + 1]
  return catalog
}
