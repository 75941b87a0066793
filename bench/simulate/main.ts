import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { DISTRIBUTION_DEFAULTS, EVICTION_VALUES } from '../../core/config/index.ts'
import { runFallback, runLru, runMostViews } from './baselines.ts'
import { runBelady } from './belady.ts'
import { chart } from './chart.ts'
import { runCidcast } from './cidcast.ts'
import { json, table } from './report.ts'
import { createTrace, TRACE_DEFAULTS } from './trace.ts'
import { createWorld } from './world.ts'
import type { EvictionValue } from '../../core/config/index.ts'
import type { PolicyResult } from './metrics.ts'

/*
 * `npm run simulate`: the distribution policy of issue 13 (the real core/distribution modules) and its baselines
 * replayed on one synthetic, seeded trace; prints the table, writes the JSON to --out and the chart beside it.
 */

const USAGE = 'usage: npm run simulate -- [--seed N] [--nodes N] [--titles N] [--days N] [--sessions N] [--eviction-value gdsf|lfu] [--out FILE]'

interface Flags {
  seed: number
  nodes: number
  titles: number
  days: number
  sessions: number
  evictionValue: EvictionValue
  out: string | null
}

class UsageError extends Error {
  override readonly name = 'UsageError'
}

function whole (raw: string | undefined, name: string, low: number, high: number, fallback: number): number {
  if (raw == null) return fallback
  const n = Number(raw)
  if (raw.trim() === '' || !Number.isInteger(n) || n < low || n > high) throw new UsageError(`--${name} must be a whole number from ${low} to ${high} (got ${JSON.stringify(raw.slice(0, 40))})`)
  return n
}

/** Reads the flags; throws UsageError with one readable line. */
export function parseFlags (argv: string[]): Flags {
  let values: Record<string, string | undefined>
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        seed: { type: 'string' },
        nodes: { type: 'string' },
        titles: { type: 'string' },
        days: { type: 'string' },
        sessions: { type: 'string' },
        'eviction-value': { type: 'string' },
        out: { type: 'string' }
      }
    }) as { values: Record<string, string | undefined> })
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]}; ${USAGE}`)
  }
  const evictionValue = values['eviction-value'] ?? DISTRIBUTION_DEFAULTS.evictionValue
  if (!(EVICTION_VALUES as readonly string[]).includes(evictionValue)) throw new UsageError(`--eviction-value must be one of ${EVICTION_VALUES.join(', ')}`)
  if (values.out === '') throw new UsageError('--out needs a file name')
  return {
    seed: whole(values.seed, 'seed', 0, 2 ** 32 - 1, 1),
    nodes: whole(values.nodes, 'nodes', 1, 65_535, 1000),
    titles: whole(values.titles, 'titles', 1, 1_000_000, 10_000),
    days: whole(values.days, 'days', 1, 60, DEFAULT_DAYS),
    sessions: whole(values.sessions, 'sessions', 1, 10_000, TRACE_DEFAULTS.sessionsPerNodeDay),
    evictionValue: evictionValue as EvictionValue,
    out: values.out ?? null
  }
}

/** Simulated days at the defaults: what keeps a run under 5 minutes on 2 cores. */
const DEFAULT_DAYS = 2

async function main (): Promise<void> {
  const flags = parseFlags(process.argv.slice(2))
  const started = performance.now()
  const log = (line: string): void => { process.stderr.write(`${line}\n`) }
  const world = createWorld({ seed: flags.seed, nodes: flags.nodes, titles: flags.titles, days: flags.days })
  const trace = createTrace(world, { ...TRACE_DEFAULTS, sessionsPerNodeDay: flags.sessions })
  log(`trace: ${trace.sessions} sessions, ${trace.count} chunk requests, ${world.catalog.works.length} works, ${world.catalog.duration.length} titles (${((performance.now() - started) / 1000).toFixed(1)} s)`)
  const results: Record<string, PolicyResult> = {}
  const settings = { ...DISTRIBUTION_DEFAULTS, evictionValue: flags.evictionValue }
  for (const [name, run] of [
    ['cidcast', () => runCidcast(world, trace, settings)],
    ['fallback', () => runFallback(world, trace)],
    ['lru', () => runLru(world, trace)],
    ['most-views', () => runMostViews(world, trace)],
    ['belady', () => runBelady(world, trace)]
  ] as const) {
    results[name] = run()
    log(`${name}: ${(100 * results[name].byteHitRatio).toFixed(1)}% in ${results[name].seconds.toFixed(1)} s`)
  }
  const seconds = (performance.now() - started) / 1000
  const header = `cidcast simulate: seed ${flags.seed}, ${flags.nodes} nodes, ${flags.titles} titles, ${flags.days} days, ${flags.sessions} sessions per node a day, ${trace.count} requests of 16 MiB chunks, eviction value ${flags.evictionValue} (${seconds.toFixed(0)} s)`
  process.stdout.write(table(results, header) + '\n')
  if (flags.out != null) {
    const run = { ...flags, requests: trace.count, sessions: trace.sessions, chunkBytes: 16 * 2 ** 20, settings, seconds }
    await mkdir(dirname(flags.out), { recursive: true })
    await writeFile(flags.out, JSON.stringify(json(results, run), null, 2) + '\n')
    await writeFile(flags.out.replace(/(\.json)?$/, '.svg'), chart(Object.values(results), `edge byte hit ratio per hour: ${flags.nodes} nodes, ${flags.titles} titles, seed ${flags.seed}`))
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`simulate: ${err.message}\n`)
    process.exit(2)
  }
  process.stderr.write(`simulate: ${(err as Error)?.stack ?? String(err)}\n`)
  process.exit(1)
})
