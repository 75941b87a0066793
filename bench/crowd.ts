import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureDebianPackage } from './apt.ts'
import { endedChildrenCpuSeconds, othersBusyCores } from './cpu-time.ts'
import { median } from './table.ts'

/**
 * Row n4's load (issue #16): many concurrent keep-alive clients fetching a list of paths for a while, on several
 * servers in turn, round after round, so a drift in the machine's load hits every server alike. Each round changes
 * which server goes first, and a server's figure is the median of its rounds; every target is loaded once, briefly
 * and not counted, before the rounds.
 *
 * The clients are wrk's (Debian's package, one thread: on 2 cores the server keeps the other). They were autocannon's
 * until stop 23, which measured the load generator rather than the servers: autocannon 9 appends every body to a
 * JavaScript string, so its one core fetched ~85 segments a second (60 MB/s, p99 2.5-7 s for nginx and the node alike)
 * where wrk fetches 3,000 (1.9 GB/s) from the same servers, and its p99 moved by 2x between rounds of the same server
 * with the order in which the client happened to read its sockets.
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

/** One run of the clients on one server. */
export interface CrowdRound {
  requests: number
  mbPerSecond: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** Connections that failed (connect, read, write errors) and requests that got no answer in time. */
  errors: number
  timeouts: number
  /** Answers other than 2xx or 3xx. */
  non2xx: number
  /** The machine's 1-minute load average when the round started. */
  loadAverage: number
  /** CPU the load generator used, in cores. */
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

export const WRK_PATH = '/usr/bin/wrk'
/** wrk's answer deadline: a request unanswered this long counts as a timeout. */
const TIMEOUT_SECONDS = 30

/** wrk's script: each request takes the next path of the list, so every connection fetches the whole list in turn. */
function script (paths: string[]): string {
  return `local paths = { ${paths.map(path => JSON.stringify(path)).join(', ')} }
local next = 0
request = function()
  next = next + 1
  return wrk.format("GET", paths[(next % #paths) + 1])
end
`
}

/** A duration as wrk prints it (`850.00us`, `31.42ms`, `1.20s`, `2.00m`), in milliseconds. */
export function wrkMs (text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim())
  if (match == null) throw new Error(`wrk printed a duration it should not have: ${text}`)
  const value = Number(match[1])
  return match[2] === 'us' ? value / 1000 : match[2] === 'ms' ? value : match[2] === 's' ? value * 1000 : value * 60_000
}

/** A size as wrk prints it (`1.84GB`, `512.00KB`), in bytes. */
function wrkBytes (text: string): number {
  const match = /^([\d.]+)(B|KB|MB|GB|TB)$/.exec(text.trim())
  if (match == null) throw new Error(`wrk printed a size it should not have: ${text}`)
  return Number(match[1]) * 1024 ** ['B', 'KB', 'MB', 'GB', 'TB'].indexOf(match[2])
}

/** The figures of wrk's `--latency` report (a duration in a one-letter unit, `1.20s`, is padded with a space). */
export function parseWrk (out: string, seconds: number): Omit<CrowdRound, 'loadAverage' | 'clientCores'> {
  const field = (pattern: RegExp): string => {
    const match = pattern.exec(out)
    if (match == null) throw new Error(`wrk's report lacks ${pattern.source}: ${out.trim().split('\n').map(line => line.trim()).join(' | ')}`)
    return match[1]
  }
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  return {
    requests: Number(field(/(\d+) requests in /)),
    mbPerSecond: wrkBytes(field(/ requests in [\d.]+\w+, ([\d.]+\w+) read/)) / 1e6 / seconds,
    p50Ms: wrkMs(field(/^[ \t]+50%[ \t]+(\S+)[ \t]*$/m)),
    p99Ms: wrkMs(field(/^[ \t]+99%[ \t]+(\S+)[ \t]*$/m)),
    maxMs: wrkMs(field(/^[ \t]+Latency[ \t]+\S+[ \t]+\S+[ \t]+(\S+)/m)),
    errors: socket == null ? 0 : Number(socket[1]) + Number(socket[2]) + Number(socket[3]),
    timeouts: socket == null ? 0 : Number(socket[4]),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
  }
}

async function wrk (args: string[], timeoutMs: number): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(WRK_PATH, args, { timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err, out, stderr) => {
      if (err == null) resolve(out)
      else reject(new Error(`wrk ${args.join(' ')}: ${stderr.trim() || err.message}`))
    })
  })
}

async function cannon (target: CrowdTarget, scriptFile: string, clients: number, seconds: number): Promise<CrowdRound> {
  const loadAverage = Number(loadavg()[0].toFixed(2))
  const cpuBefore = await endedChildrenCpuSeconds()
  const out = await wrk(['--threads', '1', '--connections', String(clients), '--duration', `${seconds}s`, '--timeout', `${TIMEOUT_SECONDS}s`,
    '--latency', '--script', scriptFile, `http://127.0.0.1:${target.port}`], (seconds + TIMEOUT_SECONDS + 30) * 1000)
  const clientCores = (await endedChildrenCpuSeconds() - cpuBefore) / seconds
  return { ...parseWrk(out, seconds), loadAverage, clientCores }
}

/** Whether the crowd figure can be measured here; resolves with why not, or undefined. */
export async function ensureCrowd (log: (line: string) => void): Promise<string | undefined> {
  return await ensureDebianPackage(WRK_PATH, 'wrk', log)
}

/** Loads each target in turn for `rounds` rounds (the first target of a round alternates); one figure per name, and the cores other work kept busy meanwhile. */
export async function measureCrowd (targets: CrowdTarget[], options: CrowdOptions): Promise<{ figures: Map<string, CrowdFigure>, othersBusyCores: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'cidcast-bench-crowd-'))
  try {
    const scripts = new Map<string, string>()
    for (const target of targets) {
      const file = join(dir, `${target.name}.lua`)
      await writeFile(file, script(target.paths))
      scripts.set(target.name, file)
    }
    const runs = new Map<string, CrowdRound[]>(targets.map(t => [t.name, []]))
    for (const target of targets) await cannon(target, scripts.get(target.name)!, options.clients, options.warmupSeconds ?? 5)
    const { cores } = await othersBusyCores(async () => {
      for (let round = 0; round < options.rounds; round++) {
        const order = round % 2 === 0 ? targets : [...targets].reverse()
        for (const target of order) {
          const run = await cannon(target, scripts.get(target.name)!, options.clients, options.seconds)
          options.log?.(`${target.name} round ${round + 1}: p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms, max ${run.maxMs} ms, ${run.requests} requests, ${run.errors + run.timeouts + run.non2xx} failed (load ${run.loadAverage}, client ${run.clientCores.toFixed(2)} cores)`)
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
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
