import { CID } from 'multiformats/cid'
import { verifyPins } from './pin-verify.ts'
import type { VerifyComponents, VerifyReport } from './pin-verify.ts'
import type { Logger } from '../logger.ts'

/*
 * The background scrub, on the main server and on every node: walks every pinned DAG slowly (a bound on bytes read
 * per second, so serving never notices), hashes each block again whatever was verified before, and fetches a good
 * copy from the peers of every block found damaged or missing. A block damaged after its first read in this process
 * (which the verified blockstore would not hash again) is found this way, without a request for it. Passes repeat
 * every `intervalMs`; progress is in `status()` (`/healthz`) and the metrics.
 */

/** Bytes a pass reads per second when the settings do not say: ~1% of one core's hashing, a disk barely busy. */
export const DEFAULT_SCRUB_BYTES_PER_SECOND = 16 * 1024 * 1024
/** From the end of one pass to the start of the next. */
export const DEFAULT_SCRUB_INTERVAL_MS = 24 * 60 * 60 * 1000
/** The first pass waits at most this long after start (less when passes are closer than that). */
const FIRST_PASS_MAX_DELAY_MS = 60_000

export interface ScrubComponents extends VerifyComponents {
  logger: Logger
  /** Told of each block a pass could neither find whole nor get back from a peer (the main server makes segments again). */
  onLost?: (cid: CID) => Promise<void>
}

export interface ScrubInit {
  /** Most bytes read per second. 0 turns the scrub off. @default 16 MiB/s */
  bytesPerSecond?: number
  /** From the end of a pass to the start of the next. @default one day */
  intervalMs?: number
}

/** A pass's figures. */
export interface ScrubPass {
  startedAt: string
  roots: number
  blocks: number
  bytes: number
  /** Blocks found missing or damaged, and of those, fetched again. */
  broken: number
  repaired: number
}

export interface ScrubStatus {
  state: 'off' | 'waiting' | 'running'
  /** Passes finished since start. */
  passes: number
  /** The pass running now. */
  current?: ScrubPass
  /** The last finished (or stopped) pass. */
  last?: ScrubPass & { finishedAt: string, durationMs: number, mbPerSecond: number, error?: string }
  /** When the next pass starts (state `waiting`). */
  nextAt?: string
  /** Since start: blocks and bytes hashed, blocks found broken and repaired. */
  totals: { blocks: number, bytes: number, broken: number, repaired: number }
}

export interface Scrubber {
  /** Schedules the first pass (no-op when the scrub is off). */
  start: () => void
  /** Stops the pass running, if any, and the schedule. */
  stop: () => Promise<void>
  status: () => ScrubStatus
}

/** Creates the scrub over the verified blockstore, the pins and a repairer. */
export function createScrubber (components: ScrubComponents, init: ScrubInit = {}): Scrubber {
  const log = components.logger.child({ name: 'cidcast:scrub' })
  const bytesPerSecond = init.bytesPerSecond ?? DEFAULT_SCRUB_BYTES_PER_SECOND
  const intervalMs = init.intervalMs ?? DEFAULT_SCRUB_INTERVAL_MS
  const totals = { blocks: 0, bytes: 0, broken: 0, repaired: 0 }
  let passes = 0
  let current: ScrubPass | undefined
  let last: ScrubStatus['last']
  let timer: NodeJS.Timeout | undefined
  let nextAt: number | undefined
  let running: Promise<void> | undefined
  let controller: AbortController | undefined
  let stopped = true

  const schedule = (delayMs: number): void => {
    if (stopped) return
    nextAt = Date.now() + delayMs
    timer = setTimeout(() => { running = pass().finally(() => { running = undefined; schedule(intervalMs) }) }, delayMs)
    timer.unref()
  }

  const pass = async (): Promise<void> => {
    nextAt = undefined
    controller = new AbortController()
    const startedAt = Date.now()
    const figures: ScrubPass = { startedAt: new Date(startedAt).toISOString(), roots: 0, blocks: 0, bytes: 0, broken: 0, repaired: 0 }
    current = figures
    let error: string | undefined
    const follow = (report: VerifyReport): void => {
      figures.roots = report.roots
      figures.blocks = report.blocks
      figures.bytes = report.bytes
      figures.broken = report.broken.length
      figures.repaired = report.broken.filter(b => b.repaired === true).length
    }
    let counted = { blocks: 0, bytes: 0, broken: 0, repaired: 0 }
    try {
      const report = await verifyPins(components, {
        repair: true,
        bytesPerSecond,
        signal: controller.signal,
        onProgress: report => {
          follow(report)
          // totals move with the pass, so the metrics show a long pass as it goes
          totals.blocks += figures.blocks - counted.blocks
          totals.bytes += figures.bytes - counted.bytes
          totals.broken += figures.broken - counted.broken
          totals.repaired += figures.repaired - counted.repaired
          counted = { ...figures }
        }
      })
      follow(report)
      for (const b of report.broken.filter(b => b.repaired !== true)) {
        log.warn({ cid: b.cid, roots: b.roots, problem: b.problem, error: b.error }, 'the scrub could not repair a block: no peer sent a good copy')
        await components.onLost?.(CID.parse(b.cid))
      }
    } catch (err) {
      error = controller.signal.aborted ? 'stopped' : `${(err as Error).name}: ${(err as Error).message}`
      if (!controller.signal.aborted) log.warn({ err }, 'a scrub pass failed; the next one starts on schedule')
    }
    const durationMs = Date.now() - startedAt
    current = undefined
    last = { ...figures, finishedAt: new Date().toISOString(), durationMs, mbPerSecond: durationMs > 0 ? figures.bytes / durationMs / 1000 : 0, error }
    if (error == null) {
      passes++
      log.info({ roots: figures.roots, blocks: figures.blocks, bytes: figures.bytes, broken: figures.broken, repaired: figures.repaired, durationMs }, 'scrub pass done')
    }
  }

  return {
    start () {
      if (bytesPerSecond <= 0 || !stopped) return
      stopped = false
      schedule(Math.min(intervalMs, FIRST_PASS_MAX_DELAY_MS))
    },
    async stop () {
      stopped = true
      if (timer != null) clearTimeout(timer)
      nextAt = undefined
      controller?.abort()
      await running
    },
    status () {
      const state = bytesPerSecond <= 0 ? 'off' : current != null ? 'running' : 'waiting'
      return {
        state,
        passes,
        current: current == null ? undefined : { ...current },
        last,
        nextAt: nextAt == null ? undefined : new Date(nextAt).toISOString(),
        totals: { ...totals }
      }
    }
  }
}
