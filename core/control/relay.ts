import { peerIdFromString } from '@libp2p/peer-id'
import { CidcastError, LeaderUnavailableError } from '../errors.ts'
import { refusal } from './client.ts'
import { ForbiddenError } from './errors.ts'
import { parseControlReply, parseControlRequest } from './validate.ts'
import { controlWire } from './wire.ts'
import type { ControlHandler } from './server.ts'
import type { ControlReply, HeartbeatReply, HeartbeatRequest, RegisterReply, RegisterRequest } from './messages.ts'
import type { Logger } from '../logger.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'

/*
 * Several main servers on one catalog (issue 15): a node registers with any of them, but the node registry and the
 * content index are the leader's alone (one writer: its orders and the node's reports never race). A server that does
 * not lead hands each control request it takes to the leader over RELAY_PROTOCOL, naming the node it came from (proven
 * on the node's own connection to it), and answers the node with the leader's reply. The leader takes relayed
 * requests only from the main servers that share its catalog; every field is checked again there.
 */

/** Follower -> leader: one relayed control request and its reply per stream. */
export const RELAY_PROTOCOL = '/cidcast/control-relay/1.0.0'

export interface ControlRelayComponents {
  libp2p: Pick<Libp2p, 'dialProtocol'>
  /** The leading main server's peer, undefined while none leads. */
  leader: () => PeerId | undefined
}

/** A control handler that passes every request on to the leader (what a server that does not lead serves nodes with). */
export function relayToLeader (components: ControlRelayComponents, init: { timeoutMs?: number } = {}): ControlHandler {
  const timeoutMs = init.timeoutMs ?? 8000
  const call = async (peer: PeerId, request: RegisterRequest | HeartbeatRequest): Promise<ControlReply> => {
    const leader = components.leader()
    if (leader == null) throw new LeaderUnavailableError('no main server leads right now; try again in a few seconds')
    const signal = AbortSignal.timeout(timeoutMs)
    let stream
    try {
      stream = await components.libp2p.dialProtocol(leader, RELAY_PROTOCOL, { signal })
    } catch {
      throw new LeaderUnavailableError('the leading main server cannot be reached; try again in a few seconds')
    }
    try {
      const wire = controlWire(stream)
      await wire.write({ peer: peer.toString(), request }, { signal })
      const reply = parseControlReply(await wire.read({ signal }))
      await stream.close({ signal })
      return reply
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      if ((err as Error).name === 'InvalidControlMessageError') throw err
      throw new LeaderUnavailableError('the leading main server did not answer; try again in a few seconds')
    }
  }
  return {
    async register (peer, request) {
      const reply = await call(peer, request)
      if (reply.type === 'error') throw refusal(reply)
      return reply as RegisterReply
    },
    async heartbeat (peer, request) {
      const reply = await call(peer, request)
      if (reply.type === 'error') throw refusal(reply)
      return reply as HeartbeatReply
    }
  }
}

export interface RelayServerComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  logger: Logger
  /** The leader's own handler (its node registry). */
  handler: ControlHandler
  /** Whether a peer is a main server sharing this catalog (only they may relay). */
  isMember: (peerId: string) => boolean
}

/** The leader's end of RELAY_PROTOCOL; resolves once serving. Call the returned function to stop. */
export async function serveControlRelay (components: RelayServerComponents, init: { timeoutMs?: number } = {}): Promise<() => Promise<void>> {
  const log = components.logger.child({ name: 'cidcast:control-relay' })
  const timeoutMs = init.timeoutMs ?? 10_000
  await components.libp2p.handle(RELAY_PROTOCOL, (stream, connection) => {
    void (async () => {
      const signal = AbortSignal.timeout(timeoutMs)
      const wire = controlWire(stream)
      try {
        let reply: ControlReply
        try {
          const from = connection.remotePeer.toString()
          if (!components.isMember(from)) throw new ForbiddenError(`peer ${from} is no main server of this catalog`)
          const message = await wire.read({ signal }) as { peer?: unknown, request?: unknown } | null
          if (typeof message?.peer !== 'string') throw new ForbiddenError('a relayed request names its node')
          const node = peerIdFromString(message.peer)
          const request = parseControlRequest(message.request, node.toString())
          reply = request.type === 'register'
            ? await components.handler.register(node, request)
            : await components.handler.heartbeat(node, request)
        } catch (err: any) {
          if (signal.aborted || stream.status !== 'open') throw err
          if (err instanceof CidcastError) {
            reply = { type: 'error', error: err.name, message: err.message }
          } else {
            log.error({ err }, 'a relayed control request failed')
            reply = { type: 'error', error: 'InternalError', message: 'internal error' }
          }
        }
        await wire.write(reply, { signal })
        await stream.close({ signal })
      } catch (err: any) {
        log.debug({ err }, 'relay stream failed')
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    })()
  }, { maxInboundStreams: 64 })
  return async () => { await components.libp2p.unhandle(RELAY_PROTOCOL) }
}

/*
 * The demand a follower hears (a viewer asked it for a play URL, or saved a position) belongs to the leader's
 * distributor: each is passed on over DEMAND_PROTOCOL, one message per stream and no reply. Best effort, as demand is
 * an estimate: an event lost while no server leads is a play not counted.
 */

/** Follower -> leader: one demand event per stream. */
export const DEMAND_PROTOCOL = '/cidcast/demand-relay/1.0.0'

/** A play URL asked, or a playback position saved, on a main server that does not lead. */
export type DemandEvent =
  | { type: 'play', viewer: string, mediaId: string, node: string | null }
  | { type: 'progress', viewer: string, mediaId: string, positionSeconds: number, durationSeconds: number }

/** Sends one demand event to the leader; false when it could not be delivered. */
export async function relayDemand (libp2p: Pick<Libp2p, 'dialProtocol'>, leader: PeerId, event: DemandEvent): Promise<boolean> {
  const signal = AbortSignal.timeout(5000)
  try {
    const stream = await libp2p.dialProtocol(leader, DEMAND_PROTOCOL, { signal })
    try {
      await controlWire(stream).write(event, { signal })
      await stream.close({ signal })
      return true
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      return false
    }
  } catch {
    return false
  }
}

/** Checks a relayed demand event; undefined for anything malformed. */
export function parseDemandEvent (value: unknown): DemandEvent | undefined {
  const m = value as Record<string, unknown> | null
  if (m == null || typeof m !== 'object') return undefined
  if (typeof m.viewer !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(m.viewer) || typeof m.mediaId !== 'string' || !/^[0-9a-f]{16}$/.test(m.mediaId)) return undefined
  if (m.type === 'play') {
    if (m.node !== null && (typeof m.node !== 'string' || !/^[1-9A-HJ-NP-Za-km-z]{1,128}$/.test(m.node))) return undefined
    return { type: 'play', viewer: m.viewer, mediaId: m.mediaId, node: m.node }
  }
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 1e9
  if (m.type === 'progress' && finite(m.positionSeconds) && finite(m.durationSeconds)) {
    return { type: 'progress', viewer: m.viewer, mediaId: m.mediaId, positionSeconds: m.positionSeconds, durationSeconds: m.durationSeconds }
  }
  return undefined
}

/** The leader's end of DEMAND_PROTOCOL: events from member servers go to `onEvent`. Call the returned function to stop. */
export async function serveDemandRelay (components: Omit<RelayServerComponents, 'handler'> & { onEvent: (event: DemandEvent) => void }): Promise<() => Promise<void>> {
  const log = components.logger.child({ name: 'cidcast:demand-relay' })
  await components.libp2p.handle(DEMAND_PROTOCOL, (stream, connection) => {
    void (async () => {
      const signal = AbortSignal.timeout(5000)
      try {
        if (!components.isMember(connection.remotePeer.toString())) throw new ForbiddenError('only main servers of this catalog relay demand')
        const event = parseDemandEvent(await controlWire(stream).read({ signal }))
        if (event != null) components.onEvent(event)
        await stream.close({ signal })
      } catch (err: any) {
        log.debug({ err }, 'demand relay stream failed')
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    })()
  }, { maxInboundStreams: 64 })
  return async () => { await components.libp2p.unhandle(DEMAND_PROTOCOL) }
}
