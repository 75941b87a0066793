import type { MissResolver } from './miss-resolver.ts'
import type { PrefetchOrder } from '../control/index.ts'
import type { Logger } from '../logger.ts'

/*
 * The node's side of predictive pre-caching (issue 13, item 4): the main server names, in a heartbeat reply, the
 * start of a title a viewer of this node is likely to play next; the node fetches it through its own miss path (so
 * it is verified, kept as evictable `prefetch` files, and after every viewer's miss), one order at a time. Orders are
 * hints: a bounded queue, the oldest dropped when full, a failed one given up.
 */

export interface PrefetchQueue {
  add (orders: readonly PrefetchOrder[]): void
  /** Resolves when the queue is empty and nothing runs. */
  settled (): Promise<void>
  stop (): void
}

const MAX_QUEUED = 16

/** Creates the queue over the node's miss resolver. */
export function createPrefetchQueue (components: { resolver: Pick<MissResolver, 'prefetch'>, logger: Logger }): PrefetchQueue {
  const log = components.logger.child({ name: 'cidcast:prefetch' })
  const queue: PrefetchOrder[] = []
  let running: Promise<void> | null = null
  let stopped = false
  const isStopped = (): boolean => stopped

  async function drain (): Promise<void> {
    for (let order = queue.shift(); order != null; order = queue.shift()) {
      if (isStopped()) return
      try {
        const got = await components.resolver.prefetch({ id: order.id, profile: order.profile }, order.segments)
        log.info({ media: order.id, profile: order.profile, segments: got }, 'pre-cached the start of a title a viewer here is likely to play next')
      } catch (err) {
        log.debug({ err, media: order.id, profile: order.profile }, 'pre-caching gave up')
      }
    }
  }

  return {
    add (orders) {
      if (stopped) return
      for (const order of orders) {
        if (queue.some(q => q.id === order.id && q.profile === order.profile)) continue
        queue.push(order)
        if (queue.length > MAX_QUEUED) queue.shift()
      }
      // an order added while the last one finishes is taken by the next drain
      running ??= drain().finally(() => { running = null; if (queue.length > 0 && !stopped) this.add([]) })
    },
    async settled () {
      await running
    },
    stop () {
      stopped = true
      queue.length = 0
    }
  }
}
