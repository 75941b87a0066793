import { Agent, get as httpGet } from 'node:http'
import { processCpuSeconds } from './cpu-time.ts'
import { median } from './table.ts'

/**
 * The one HTTP load generator of the bench: keep-alive node:http loops fetching a list of paths, and rounds
 * that load several servers in turn, so a noisy neighbour on the machine hits all of them alike.
 */

/** One timed load on one server. */
export interface LoadRound {
  mbPerSecond: number
  requestsPerSecond: number
  errors: number
  /** Server CPU seconds (user + system) per GB served, when the server's processes are known. */
  cpuSecondsPerGB?: number
  /** CPU the load generator (this process) used, in cores: near 1 means the client set the pace. */
  clientCores?: number
}

/** A target's rounds summed up. */
export interface ThroughputFigure {
  /** The best round: the one least disturbed by other work on the machine. */
  mbPerSecond: number
  medianMbPerSecond: number
  /** Of the best round. */
  requestsPerSecond: number
  /** Server CPU seconds (user + system) per GB served, median of the rounds; steadier than MB/s on a busy machine. */
  cpuSecondsPerGB?: number
  /** Median over the rounds. */
  clientCores?: number
  /** MB/s of every round, in order. */
  rounds: number[]
  errors: number
}

/** A server to load: where, which paths, and (for CPU accounting) the processes that serve. */
export interface LoadTarget {
  name: string
  port: number
  paths: string[]
  /** Headers sent with every request (a credential the server asks for). */
  headers?: Record<string, string>
  /** Process ids whose CPU counts as the server's (nginx: master and workers). */
  pids?: () => Promise<number[]>
}

export interface RoundsOptions {
  rounds: number
  roundSeconds: number
  connections: number
  /** Seconds of warm-up load per target before the rounds (page cache, JIT, block caches). @default 1 */
  warmupSeconds?: number
}

/** `connections` keep-alive loops, each fetching the paths in turn (from its own starting point) until the deadline. */
export async function load (port: number, paths: string[], durationSeconds: number, connections: number, headers: Record<string, string> = {}): Promise<LoadRound> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const deadline = performance.now() + durationSeconds * 1000
  let bytes = 0
  let requests = 0
  let failures = 0
  const get = (path: string): Promise<void> => new Promise((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port, path, agent, headers }, res => {
      if (res.statusCode !== 200) failures++
      res.on('data', (chunk: Buffer) => { bytes += chunk.byteLength })
      res.on('end', () => { requests++; resolve() })
      res.on('error', reject)
    }).on('error', reject)
  })
  const started = performance.now()
  await Promise.all(Array.from({ length: connections }, async (_, c) => {
    for (let i = c * 7; performance.now() < deadline; i++) await get(paths[i % paths.length])
  }))
  const seconds = (performance.now() - started) / 1000
  agent.destroy()
  return { mbPerSecond: bytes / seconds / 1e6, requestsPerSecond: requests / seconds, errors: failures }
}

async function serverCpuSeconds (target: LoadTarget): Promise<number | undefined> {
  if (target.pids == null) return undefined
  const each = await Promise.all((await target.pids()).map(processCpuSeconds))
  return each.some(s => s == null) ? undefined : each.reduce<number>((sum, s) => sum + (s ?? 0), 0)
}

/** One round on `target`, with the server's CPU per GB and the client's CPU. */
async function timedRound (target: LoadTarget, seconds: number, connections: number): Promise<LoadRound> {
  const cpuBefore = await serverCpuSeconds(target)
  const clientBefore = process.cpuUsage()
  const started = performance.now()
  const figure = await load(target.port, target.paths, seconds, connections, target.headers)
  const client = process.cpuUsage(clientBefore)
  figure.clientCores = (client.user + client.system) / 1000 / (performance.now() - started)
  const cpuAfter = await serverCpuSeconds(target)
  const gb = figure.mbPerSecond * seconds / 1000
  if (cpuBefore != null && cpuAfter != null && gb > 0) figure.cpuSecondsPerGB = (cpuAfter - cpuBefore) / gb
  return figure
}

function middle (values: number[]): number | undefined {
  return values.length === 0 ? undefined : median(values)
}

function summarise (rounds: LoadRound[]): ThroughputFigure {
  const best = rounds.reduce((a, b) => b.mbPerSecond > a.mbPerSecond ? b : a)
  return {
    mbPerSecond: best.mbPerSecond,
    medianMbPerSecond: middle(rounds.map(r => r.mbPerSecond)) ?? 0,
    requestsPerSecond: best.requestsPerSecond,
    cpuSecondsPerGB: middle(rounds.map(r => r.cpuSecondsPerGB).filter((c): c is number => c != null)),
    clientCores: middle(rounds.map(r => r.clientCores).filter((c): c is number => c != null)),
    rounds: rounds.map(r => r.mbPerSecond),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0)
  }
}

/** Warms every target up, then loads each in turn for `rounds` rounds; one figure per target name. */
export async function measureRounds (targets: LoadTarget[], options: RoundsOptions): Promise<Map<string, ThroughputFigure>> {
  for (const t of targets) await load(t.port, t.paths, options.warmupSeconds ?? 1, options.connections, t.headers)
  const results = new Map<string, LoadRound[]>()
  for (let round = 0; round < options.rounds; round++) {
    for (const t of targets) {
      const figure = await timedRound(t, options.roundSeconds, options.connections)
      results.set(t.name, [...(results.get(t.name) ?? []), figure])
    }
  }
  return new Map([...results].map(([name, rounds]) => [name, summarise(rounds)]))
}
