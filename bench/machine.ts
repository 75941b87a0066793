import { execFileSync } from 'node:child_process'

/**
 * What fresh memory costs on this machine. Every path that allocates a new buffer per block (a socket read, a block
 * fetched, WebCrypto's copy of what it hashes) pays a page fault per 4 KiB it first touches. On bare metal that is
 * well under a microsecond; in the virtual machines this project's benches ran on it was 14-18 µs, so fresh memory
 * filled at ~250 MB/s, no faster than the peer-to-peer figures it limits. Printed with the machine so a reader can
 * tell a slow path from a slow machine.
 */
export interface PageFaultCost {
  /** Microseconds per minor page fault, first touches of fresh memory. */
  microsPerFault: number
  /** Fresh memory written, in MB/s. */
  freshMbPerSecond: number
}

const PROBE = `
const before = process.resourceUsage().minorPageFault
const started = performance.now()
const kept = []
for (let i = 0; i < 64; i++) { const b = Buffer.allocUnsafeSlow(1 << 20); b.fill(1); kept.push(b) }
const ms = performance.now() - started
process.stdout.write(JSON.stringify({ ms, faults: process.resourceUsage().minorPageFault - before, bytes: 64 << 20 }))
`

/** Measures page-fault cost in a fresh Node process (64 MiB of new 1 MiB Buffers, each filled once). */
export function measurePageFaultCost (): PageFaultCost | undefined {
  try {
    const { ms, faults, bytes } = JSON.parse(execFileSync(process.execPath, ['-e', PROBE], { encoding: 'utf8', timeout: 30_000 })) as { ms: number, faults: number, bytes: number }
    // the allocation loop itself is a few microseconds: all but nothing of the time is the faults and the writes
    return { microsPerFault: faults > 0 ? ms * 1000 / faults : 0, freshMbPerSecond: bytes / 1e6 / (ms / 1000) }
  } catch {
    return undefined
  }
}
