import type { PolicyResult } from './metrics.ts'

/*
 * The simulator's report: the table printed to stdout (a row per policy, then the goals of issue 13 with their
 * ratios) and the JSON written to --out (one object per policy keyed by its name, plus the run's parameters).
 */

export interface Goal {
  goal: string
  value: number
  pass: boolean
}

/** The goals of issue 13, measured on one run. */
export function goals (r: Record<string, PolicyResult>): Goal[] {
  const c = r.cidcast
  const waste = Number(c.extra.prefetchWasteRatio)
  return [
    { goal: 'cidcast / belady byte hit ratio >= 0.9', value: ratio(c.byteHitRatio, r.belady.byteHitRatio), pass: c.byteHitRatio >= 0.9 * r.belady.byteHitRatio },
    { goal: 'cidcast byte hit ratio - lru > 0', value: c.byteHitRatio - r.lru.byteHitRatio, pass: c.byteHitRatio > r.lru.byteHitRatio },
    { goal: 'cidcast byte hit ratio - most-views > 0', value: c.byteHitRatio - r['most-views'].byteHitRatio, pass: c.byteHitRatio > r['most-views'].byteHitRatio },
    { goal: 'origin egress / fallback\'s <= 1/3', value: ratio(c.originBytes, r.fallback.originBytes), pass: c.originBytes * 3 <= r.fallback.originBytes },
    { goal: 'fill bytes (origin + node to node) / fallback\'s egress <= 1/2', value: ratio(c.fillBytes, r.fallback.originBytes), pass: c.fillBytes * 2 <= r.fallback.originBytes },
    { goal: 'next-episode starts local >= 0.95', value: c.nextEpisodeLocalRatio, pass: c.nextEpisodeLocalRatio >= 0.95 },
    { goal: 'prefetch waste <= 0.2', value: waste, pass: waste <= 0.2 }
  ]
}

/** The table, as text. */
export function table (r: Record<string, PolicyResult>, header: string): string {
  const rows = [['policy', 'byte hit', 'origin egress', 'node-to-node fill', 'origin fill', 'evictions', 'next-ep local', 'prefetch waste', 'replay s']]
  for (const p of Object.values(r)) {
    const waste = p.extra.prefetchWasteRatio
    rows.push([p.policy, pct(p.byteHitRatio), bytes(p.originBytes), bytes(p.replicationBytes), bytes(p.originFillBytes), String(p.evictions), pct(p.nextEpisodeLocalRatio), waste == null ? '-' : pct(Number(waste)), p.seconds.toFixed(1)])
  }
  const widths = rows[0].map((_, col) => Math.max(...rows.map(row => row[col].length)))
  const lines = rows.map(row => row.map((cell, col) => col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col])).join('  '))
  lines.splice(1, 0, widths.map(w => '-'.repeat(w)).join('  '))
  const goalLines = goals(r).map(g => `${g.pass ? 'PASS' : 'FAIL'}  ${g.goal}: ${g.value.toFixed(3)}`)
  return [header, '', ...lines, '', ...goalLines].join('\n')
}

/** The JSON document: policies keyed by name, each with its figures, and the run's parameters. */
export function json (r: Record<string, PolicyResult>, run: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { run, goals: goals(r) }
  for (const [name, p] of Object.entries(r)) {
    const { policy, extra, ...figures } = p
    out[name] = name === 'cidcast'
      ? { ...figures, prefetchWasteRatio: Number(extra.prefetchWasteRatio), details: extra }
      : { ...figures, details: extra }
  }
  return out
}

function ratio (a: number, b: number): number {
  return b > 0 ? a / b : 0
}

function pct (x: number): string {
  return `${(100 * x).toFixed(1)}%`
}

function bytes (n: number): string {
  if (n >= 2 ** 40) return `${(n / 2 ** 40).toFixed(2)} TiB`
  return `${(n / 2 ** 30).toFixed(1)} GiB`
}
