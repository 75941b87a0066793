import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

/** One line of the bench table: a figure, its baseline from the same run, their ratio and the goal. */
export interface Row {
  /** Number of the figure in issue #2's list, e.g. `1` or `4b`. */
  id: string
  figure: string
  /** Measured value in `unit`; null when it could not be measured (see `note`). */
  value: number | null
  unit: string
  /** The baseline's value (same unit) and what it is. */
  baseline: number | null
  baselineLabel: string
  /** value / baseline. */
  ratio: number | null
  goal: string
  /** null: no goal to pass or fail (informational) or not measured. */
  pass: boolean | null
  note?: string
  /** Raw samples and anything else worth keeping in the JSON. */
  details?: Record<string, unknown>
}

/** The middle sample (mean of the two middle ones for an even count). */
export function median (samples: readonly number[]): number {
  return percentile(samples, 50)
}

/** The p-th percentile by linear interpolation between closest ranks. */
export function percentile (samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new RangeError('no samples')
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (p / 100) * (sorted.length - 1)
  const lo = Math.floor(at)
  const hi = Math.ceil(at)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo)
}

/** value / baseline, or null when either is missing or the baseline is 0. */
export function ratioOf (value: number | null, baseline: number | null): number | null {
  return value == null || baseline == null || baseline === 0 ? null : value / baseline
}

function num (value: number | null, unit: string): string {
  if (value == null) return '-'
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2
  return `${value.toFixed(digits)} ${unit}`
}

function verdict (row: Row): string {
  if (row.value == null) return 'SKIPPED'
  // set by bench/run.ts when other work kept the machine busy while the row's group ran
  const busy = row.details?.othersBusyCores != null ? ' BUSY' : ''
  if (row.pass == null) return `info${busy}`
  return (row.pass ? 'PASS' : 'FAIL') + busy
}

/** The table as plain-text columns, one row per figure, notes below it. */
export function formatTable (rows: readonly Row[]): string {
  const header = ['#', 'figure', 'value', 'baseline', 'ratio', 'goal', 'result']
  const cells = rows.map(r => [
    r.id,
    r.figure,
    num(r.value, r.unit),
    r.baseline == null ? `- (${r.baselineLabel})` : `${num(r.baseline, r.unit)} (${r.baselineLabel})`,
    r.ratio == null ? '-' : `${r.ratio.toFixed(2)}x`,
    r.goal,
    verdict(r)
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map(c => c[i].length)))
  const line = (c: string[]): string => c.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()
  const out = [line(header), widths.map(w => '-'.repeat(w)).join('  '), ...cells.map(line)]
  const notes = rows.filter(r => r.note != null).map(r => `  [${r.id}] ${r.note}`)
  if (notes.length > 0) out.push('', 'notes:', ...notes)
  return out.join('\n')
}

/** Writes the rows and the run's context as JSON (bench/.cache/ is git-ignored). */
export async function writeJson (path: string, rows: readonly Row[], context: Record<string, unknown>): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, JSON.stringify({ ...context, rows }, null, 2) + '\n')
}
