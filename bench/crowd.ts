import { loadavg } from 'node:os'
import autocannon from 'autocannon'
import { othersBusyCores } from './cpu-time.ts'
import { median } from './table.ts'

/**
 * Row n4's load (issue #16): many concurrent keep-alive clients (autocannon) fetching a list of paths for a while, on
 * several servers in turn, round after round, so a drift in the machine's load hits every server alike. Each round
 * changes which server goes first, and a server's figure is the median of its rounds. autocannon 9 appends every body
 * to a JavaScript string (a UTF-8 decoding of the video bytes): profiled against nginx, that was half of its CPU and
 * garbage collection a fifth more, so with 2 cores it is usually the load generator that sets the pace; each round
 * reports the cores it used. For the same reason every target is loaded once, briefly and not counted, before the
 * rounds: the first autocannon run of a process (its JIT cold) had always gone to the first target, whose first
 * round was then its worst in every run on record (node p99 6.0-6.9 s against 3.0-5.4 s in its later rounds).
 */

/** A server to load: where, and the paths its clients fetch in turn. */
export interface CrowdTarget {
  name: string
  port: number
  paths: string[]
}

export interface CrowdOptions {
  rounds: number
  clients: number
  seconds: number
  /** Seconds of load per target before the rounds, not counted. @default 5 */
  warmupSeconds?: number
  log?: (line: string) => void
}

/** One autocannon run on one server. */
export interface CrowdRound {
  requests: number
  mbPerSecond: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  errors: number
  timeouts: number
  non2xx: number
  /** The machine's 1-minute load average when the round started. */
  loadAverage: number
  /** CPU the load generator (this process) used, in cores: near what the machine can give it, the client set the pace. */
  clientCores: number
}

/** A server's rounds summed up: medians of the rounds' percentiles, failures summed. */
export interface CrowdFigure {
  p50Ms: number
  p99Ms: number
  /** Requests that did not answer 200 in time, over every round. */
  failures: number
  rounds: CrowdRound[]
}

async function cannon (target: CrowdTarget, clients: number, seconds: number): Promise<CrowdRound> {
  const loadAverage = Number(loadavg()[0].toFixed(2))
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const result = await autocannon({
    url: `http://127.0.0.1:${target.port}`,
    connections: clients,
    duration: seconds,
    timeout: 30,
    requests: target.paths.map(path => ({ method: 'GET' as const, path }))
  })
  const cpu = process.cpuUsage(cpuBefore)
  return {
    requests: result.requests.total,
    mbPerSecond: result.throughput.average / 1e6,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    loadAverage,
    clientCores: (cpu.user + cpu.system) / 1000 / (performance.now() - started)
  }
}

/** Loads each target in turn for `rounds` rounds (the first target of a round alternates); one figure per name, and the cores other work kept busy meanwhile. */
export async function measureCrowd (targets: CrowdTarget[], options: CrowdOptions): Promise<{ figures: Map<string, CrowdFigure>, othersBusyCores: number }> {
  const runs = new Map<string, CrowdRound[]>(targets.map(t => [t.name, []]))
  for (const target of targets) await cannon(target, options.clients, options.warmupSeconds ?? 5)
  const { cores } = await othersBusyCores(async () => {
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse()
      for (const target of order) {
        const run = await cannon(target, options.clients, options.seconds)
        options.log?.(`${target.name} round ${round + 1}: p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms, ${run.requests} requests, ${run.errors + run.timeouts + run.non2xx} failed (load ${run.loadAverage}, client ${run.clientCores.toFixed(2)} cores)`)
        runs.get(target.name)!.push(run)
      }
    }
  })
  const figures = new Map([...runs].map(([name, rounds]) => [name, {
    p50Ms: median(rounds.map(r => r.p50Ms)),
    p99Ms: median(rounds.map(r => r.p99Ms)),
    failures: rounds.reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx, 0),
    rounds
  }]))
  return { figures, othersBusyCores: cores }
}
