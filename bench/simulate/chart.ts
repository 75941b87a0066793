import type { PolicyResult } from './metrics.ts'

/*
 * The SVG chart beside the JSON: each policy's edge byte hit ratio per simulated hour, one line per policy, so the
 * warm-up, the daily cycle and churn show.
 */

const WIDTH = 900
const HEIGHT = 420
const PAD = { left: 50, right: 130, top: 30, bottom: 40 }
const COLORS: Record<string, string> = { cidcast: '#d62728', belady: '#2ca02c', lru: '#1f77b4', 'most-views': '#ff7f0e', fallback: '#7f7f7f' }

/** The chart as SVG text. */
export function chart (results: PolicyResult[], title: string): string {
  const hours = Math.max(1, ...results.map(r => r.hourly.length))
  const w = WIDTH - PAD.left - PAD.right
  const h = HEIGHT - PAD.top - PAD.bottom
  const x = (hour: number): number => PAD.left + (hours > 1 ? hour / (hours - 1) : 0) * w
  const y = (ratio: number): number => PAD.top + (1 - ratio) * h
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${PAD.left}" y="18" font-size="14">${escape(title)}</text>`
  ]
  for (let tick = 0; tick <= 10; tick += 2) {
    const ty = y(tick / 10)
    parts.push(`<line x1="${PAD.left}" y1="${ty}" x2="${PAD.left + w}" y2="${ty}" stroke="#ddd"/>`, `<text x="${PAD.left - 6}" y="${ty + 4}" text-anchor="end">${tick * 10}%</text>`)
  }
  for (let day = 0; day * 24 < hours; day++) {
    const tx = x(day * 24)
    parts.push(`<line x1="${tx}" y1="${PAD.top}" x2="${tx}" y2="${PAD.top + h}" stroke="#eee"/>`, `<text x="${tx}" y="${PAD.top + h + 16}" text-anchor="middle">day ${day}</text>`)
  }
  parts.push(`<text x="${PAD.left + w / 2}" y="${HEIGHT - 6}" text-anchor="middle">simulated time (hours)</text>`)
  results.forEach((r, i) => {
    const color = COLORS[r.policy] ?? '#000'
    const points = r.hourly.flatMap((ratio, hour) => ratio == null ? [] : [`${x(hour).toFixed(1)},${y(ratio).toFixed(1)}`])
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points.join(' ')}"/>`)
    const ly = PAD.top + 14 + i * 18
    parts.push(`<line x1="${PAD.left + w + 12}" y1="${ly - 4}" x2="${PAD.left + w + 32}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`, `<text x="${PAD.left + w + 38}" y="${ly}">${escape(r.policy)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

function escape (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}
