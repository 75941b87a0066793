import { Command } from 'commander'
import type { PinOutput } from './pin.ts'
import type { VerifyReport } from '../../core/ipfs/index.ts'

/*
 * `cidcast pin verify` on a CDN node's machine (or the main server's): asks the daemon (its loopback-only
 * `POST /pins/verify`) to read every block of every DAG it holds pinned, hash each again and list the blocks that are
 * missing or no longer match their CID (a damaged one is removed as it is found); `--repair` fetches good copies from
 * the connected peers. Exits 1 while anything stays broken.
 */

/** The node's gateway when neither `--node` nor CIDCAST_NODE_URL says. */
const DEFAULT_NODE_URL = 'http://127.0.0.1:8081'
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

function bytes (n: number): string {
  let value = n
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) { value /= 1024; unit++ }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`
}

/** The lines `pin verify` prints for a report: one per broken block, then a summary. */
export function verifyLines (report: VerifyReport): string[] {
  const lines = report.broken.map(b => {
    const outcome = b.repaired === true ? 'repaired' : b.repaired === false ? `not repaired: ${b.error ?? 'unknown'}` : ''
    return [b.problem, b.cid, b.roots.join(','), outcome].join('\t').trimEnd()
  })
  const left = report.broken.filter(b => b.repaired !== true).length
  const unchecked = report.unchecked > 0 ? `, ${report.unchecked} not checkable (hash other than sha2-256)` : ''
  lines.push(`verified ${report.roots} pinned root${report.roots === 1 ? '' : 's'}, ${report.blocks} blocks (${bytes(report.bytes)}) in ${(report.durationMs / 1000).toFixed(1)} s: ${report.broken.length} broken${report.broken.length > 0 ? `, ${report.broken.length - left} repaired` : ''}${unchecked}`)
  return lines
}

/** The `verify` subcommand of `cidcast pin`. */
export function pinVerifyCommand (io: PinOutput = {}): Command {
  const out = (): NodeJS.WritableStream => io.out ?? process.stdout
  return new Command('verify')
    .description('re-hash every block a CDN node (or the main server) holds pinned and list the missing or damaged ones (on its machine)')
    .option('--node <url>', `the node's gateway URL, or the main server's URL (env CIDCAST_NODE_URL, default ${DEFAULT_NODE_URL})`)
    .option('--repair', 'fetch missing and damaged blocks again from the connected peers')
    .action(async (opts: { node?: string, repair?: boolean }) => {
      const base = (opts.node ?? process.env.CIDCAST_NODE_URL ?? DEFAULT_NODE_URL).replace(/\/+$/, '')
      const res = await fetch(`${base}/pins/verify${opts.repair === true ? '?repair=1' : ''}`, { method: 'POST' })
      const body = await res.json().catch(() => ({})) as VerifyReport & { error?: string, message?: string }
      if (!res.ok) {
        throw Object.assign(new Error(body.message ?? `${base} answered ${res.status}`), { name: body.error ?? 'Error', code: body.error })
      }
      for (const line of verifyLines(body)) out().write(`${line}\n`)
      if (body.broken.some(b => b.repaired !== true)) process.exitCode = 1
    })
}
