import { setTimeout as sleep } from 'node:timers/promises'
import { toBuffer } from './verified-blockstore.ts'
import type { VerifiedBlockstore } from './verified-blockstore.ts'
import type { Logger } from '../logger.ts'
import type { Blocks } from '@helia/interface'
import type { CID } from 'multiformats/cid'

/*
 * Fetching a good copy of a block this peer lost (found damaged, or missing from a pinned DAG): every node that
 * holds the content is a backup. Helia's networked `get` wants the block from every connected peer over bitswap (on
 * the main server that is every registered node; on a node the main server and the peers it pins from) and checks
 * what arrives against the CID before storing it. One repair per block at a time, whoever asks.
 */

/**
 * A block wanted this long is asked for again. A Helia peer that sent us this block before keeps a "sent" entry for
 * it that swallows the next want (core/edge/pin-fetch.ts, DEFAULT_REWANT_MS, says how); a lost block was always sent
 * to us before, so its first want is lost and the second gets it. Pins re-want after 6 s (many blocks in flight);
 * one block wanted again every second costs nothing, and a repair then takes ~2 s instead of ~12.
 */
export const REPAIR_REWANT_MS = 1000
const MAX_FAILURES_REMEMBERED = 10_000
/** Longer than bitswap's want-list debounce (10 ms), so a re-want is not merged into the cancel of the last one. */
const CANCEL_FLUSH_MS = 50

export interface BlockRepairComponents {
  /** Helia's blockstore: a `get` that is not offline fetches over bitswap and keeps the checked block. */
  blockstore: Pick<Blocks, 'get'>
  logger: Logger
}

export interface BlockRepairInit {
  /** Longest wait for a good copy when the caller gives none. @default 30000 */
  timeoutMs?: number
  /** @default 1000 */
  rewantMs?: number
}

export interface RepairStats {
  /** Blocks fetched again since start, and the attempts that found no copy. */
  repaired: number
  failed: number
}

export interface RepairOptions {
  signal?: AbortSignal
  /** Deadline of a repair this call starts (one already on its way keeps its own). @default the repairer's */
  timeoutMs?: number
  /**
   * Fail at once when the last repair of this block failed less than this long ago: a request for a block nobody
   * has must not wait again and again. @default 0 (always try)
   */
  recentFailureMs?: number
}

export interface BlockRepairer {
  /** A good copy of `cid` from the peers, now stored; throws (the last error, or a timeout) when none came in time. */
  repair: (cid: CID, options?: RepairOptions) => Promise<Buffer>
  stats: () => RepairStats
  /** Ends every repair on its way (the daemon is stopping). */
  stop: () => void
}

/** Creates the repairer over Helia's blockstore. */
export function createBlockRepairer (components: BlockRepairComponents, init: BlockRepairInit = {}): BlockRepairer {
  const log = components.logger.child({ name: 'cidcast:block-repair' })
  const defaultTimeoutMs = init.timeoutMs ?? 30_000
  const rewantMs = init.rewantMs ?? REPAIR_REWANT_MS
  const running = new Map<string, Promise<Buffer>>()
  const stats: RepairStats = { repaired: 0, failed: 0 }
  const stopping = new AbortController()
  /** When the last repair of a block failed (cleared by a success); bounded like the damaged set it mirrors. */
  const failedAt = new Map<string, number>()

  const fetch = async (cid: CID, signal: AbortSignal): Promise<Buffer> => {
    for (;;) {
      const attempt = AbortSignal.any([signal, AbortSignal.timeout(rewantMs)])
      try {
        const chunks: Uint8Array[] = []
        for await (const chunk of components.blockstore.get(cid, { signal: attempt })) chunks.push(chunk)
        return toBuffer(chunks)
      } catch (err) {
        // the attempt's own deadline: want it again; the caller's signal or any other error ends the repair
        if (signal.aborted || !attempt.aborted) throw err
      }
      // bitswap sends the cancel of the aborted want a few ms later (debounced); a want made before that joins the
      // cancelled entry and is dropped with it
      await sleep(CANCEL_FLUSH_MS, undefined, { signal })
    }
  }

  return {
    async repair (cid, options = {}) {
      const key = Buffer.from(cid.multihash.bytes).toString('base64')
      let pending = running.get(key)
      const failed = failedAt.get(key)
      if (pending == null && failed != null && Date.now() - failed < (options.recentFailureMs ?? 0)) {
        throw Object.assign(new Error(`no peer had a good copy ${Math.round((Date.now() - failed) / 1000)} s ago`), { name: 'TimeoutError' })
      }
      if (pending == null) {
        // one fetch for everyone waiting: it runs to its own deadline, whatever each caller's signal does
        const timeoutMs = options.timeoutMs ?? defaultTimeoutMs
        pending = fetch(cid, AbortSignal.any([stopping.signal, AbortSignal.timeout(timeoutMs)])).then(bytes => {
          stats.repaired++
          failedAt.delete(key)
          log.info({ cid: cid.toString() }, 'fetched a good copy of a lost block from the peers')
          return bytes
        }, (err: unknown) => {
          if (stopping.signal.aborted) throw err
          stats.failed++
          failedAt.delete(key)
          failedAt.set(key, Date.now())
          if (failedAt.size > MAX_FAILURES_REMEMBERED) failedAt.delete(failedAt.keys().next().value as string)
          log.warn({ cid: cid.toString(), err: (err as Error).name }, 'no peer sent a good copy of a lost block')
          throw (err as Error).name === 'TimeoutError' ? Object.assign(new Error(`no peer sent a good copy within ${timeoutMs} ms`), { name: 'TimeoutError' }) : err
        }).finally(() => running.delete(key))
        running.set(key, pending)
      }
      if (options.signal == null) return await pending
      const { promise, reject } = Promise.withResolvers<never>()
      const onAbort = (): void => { reject(options.signal?.reason) }
      options.signal.addEventListener('abort', onAbort, { once: true })
      try {
        options.signal.throwIfAborted()
        return await Promise.race([pending, promise])
      } finally {
        options.signal.removeEventListener('abort', onAbort)
      }
    },
    stats: () => ({ ...stats }),
    stop: () => { stopping.abort() }
  }
}

/** Repairs every block `store` finds damaged, in the background, as soon as it is found; returns the unsubscribe. */
export function repairWhenDamaged (store: Pick<VerifiedBlockstore, 'onChange'>, repairer: Pick<BlockRepairer, 'repair'>): () => void {
  return store.onChange((cid, change) => {
    if (change === 'damaged') repairer.repair(cid).catch(() => {})
  })
}
