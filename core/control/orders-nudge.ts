import { ORDERS_PROTOCOL } from './messages.ts'
import { parseOrdersPending } from './validate.ts'
import { controlWire } from './wire.ts'
import type { Logger } from '../logger.ts'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'

/*
 * ORDERS_PROTOCOL (messages.ts): the main server tells a node "orders are waiting" so the node heartbeats
 * at once instead of at its next interval. The stream carries no order itself: orders only travel in heartbeat
 * replies, so there is one path for them and a lost nudge costs at most one heartbeat interval.
 */

/** Server side: asks `peer` to heartbeat now. Resolves true when the node acknowledged, false on any failure. */
export async function nudgeNode (libp2p: Pick<Libp2p, 'dialProtocol'>, peer: PeerId, options: AbortOptions = {}): Promise<boolean> {
  const signal = AbortSignal.any([AbortSignal.timeout(5000), ...(options.signal != null ? [options.signal] : [])])
  try {
    const stream = await libp2p.dialProtocol(peer, ORDERS_PROTOCOL, { signal })
    try {
      const wire = controlWire(stream)
      await wire.write({ type: 'orders-pending' }, { signal })
      const reply = await wire.read({ signal }) as { type?: unknown } | null
      await stream.close({ signal })
      return reply?.type === 'ok'
    } catch (err: any) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      return false
    }
  } catch {
    return false
  }
}

export interface OrderNudgeHandlerComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  logger: Logger
  /** Whether a peer is a main server of this node's catalog (nudges from anyone else are refused). */
  fromServer: (peer: PeerId) => boolean
  /** Called for each accepted nudge (e.g. `agent.beat()`). */
  onNudge: () => void
}

/** Node side: serves ORDERS_PROTOCOL; resolves once handled. Call the returned function to stop. */
export async function handleOrderNudges (components: OrderNudgeHandlerComponents): Promise<() => Promise<void>> {
  const log = components.logger.child({ name: 'cidcast:orders-nudge' })
  await components.libp2p.handle(ORDERS_PROTOCOL, (stream, connection) => {
    void (async () => {
      const signal = AbortSignal.timeout(5000)
      try {
        const wire = controlWire(stream)
        parseOrdersPending(await wire.read({ signal }))
        if (!components.fromServer(connection.remotePeer)) {
          await wire.write({ type: 'error', error: 'ForbiddenError', message: 'only the main server sends orders' }, { signal })
        } else {
          await wire.write({ type: 'ok' }, { signal })
          components.onNudge()
        }
        await stream.close({ signal })
      } catch (err: any) {
        log.debug({ err }, 'orders nudge failed')
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    })()
  }, { maxInboundStreams: 2 })
  return async () => { await components.libp2p.unhandle(ORDERS_PROTOCOL) }
}
