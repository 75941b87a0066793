import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { runNode } from '../helpers/spawn.ts'
import { tempDir } from '../helpers/tmp.ts'

const SMALL = ['--nodes', '50', '--titles', '300', '--days', '1', '--seed', '7']
const POLICIES = ['cidcast', 'fallback', 'lru', 'most-views', 'belady'] as const

interface Figures {
  byteHitRatio: number
  originBytes: number
  replicationBytes: number
  evictions: number
  requestedBytes: number
  nextEpisodeLocalRatio: number
  prefetchWasteRatio?: number
}

async function simulate (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const run = runNode(['--import=tsx', 'bench/simulate/main.ts', ...args])
  const code = await run.exited
  return { code, stdout: run.stdout(), stderr: run.stderr() }
}

async function simulateSmall (dir: string, name: string): Promise<Record<string, Figures>> {
  const out = join(dir, `${name}.json`)
  const run = await simulate(...SMALL, '--out', out)
  if (run.code !== 0) throw new Error(`simulate exited ${run.code}: ${run.stderr}`)
  return JSON.parse(await readFile(out, 'utf8')) as Record<string, Figures>
}

test('a small run writes every policy\'s figures, sane against each other, the same for the same seed', async t => {
  const dir = await tempDir('cidcast-simulate-')
  t.teardown(dir.remove)
  const [first, second] = await Promise.all([simulateSmall(dir.path, 'a'), simulateSmall(dir.path, 'b')])
  for (const name of POLICIES) {
    const p = first[name]
    t.truthy(p, `${name} is in the JSON`)
    t.true(p.byteHitRatio >= 0 && p.byteHitRatio <= 1, `${name} byteHitRatio in 0-1`)
    for (const field of ['originBytes', 'replicationBytes', 'evictions'] as const) t.true(Number.isFinite(p[field]) && p[field] >= 0, `${name}.${field}`)
  }
  t.is(first.fallback.byteHitRatio, 0)
  t.true(first.fallback.originBytes > 0)
  t.is(first.fallback.originBytes, first.fallback.requestedBytes)
  for (const name of POLICIES) t.is(first[name].requestedBytes, first.fallback.requestedBytes, `${name} replays the same trace`)
  t.true(first.belady.byteHitRatio >= first.lru.byteHitRatio)
  t.true(first.cidcast.byteHitRatio > 0)
  for (const field of ['nextEpisodeLocalRatio', 'prefetchWasteRatio'] as const) {
    const value = first.cidcast[field]
    t.true(typeof value === 'number' && value >= 0 && value <= 1, `cidcast.${field} in 0-1`)
  }
  const figures = (r: Record<string, Figures>): unknown => POLICIES.map(name => {
    const { byteHitRatio, originBytes, replicationBytes, evictions } = r[name]
    return { byteHitRatio, originBytes, replicationBytes, evictions }
  })
  t.deepEqual(figures(second), figures(first))
  const svg = await readFile(join(dir.path, 'a.svg'), 'utf8')
  t.regex(svg, /^<svg/)
  for (const name of POLICIES) t.true(svg.includes(`>${name}</text>`), `the chart has a line for ${name}`)
})

test('a bad flag gives one readable line and exit code 2', async t => {
  for (const args of [['--nodes', 'many'], ['--days', '0'], ['--eviction-value', 'random'], ['--frobnicate']]) {
    const run = await simulate(...args)
    t.is(run.code, 2, args.join(' '))
    t.is(run.stderr.trim().split('\n').length, 1, args.join(' '))
    t.regex(run.stderr, /^simulate: /)
    t.notRegex(run.stderr, /\n\s+at /)
  }
})
