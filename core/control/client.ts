import { CONTROL_ERRORS, ControlRefusedError, ControlTimeoutError, InvalidControlMessageError } from './errors.ts'
import { CONTROL_PROTOCOL } from './messages.ts'
import { parseControlReply, parseControlRequest } from './validate.ts'
import { controlWire } from './wire.ts'
import type { ControlReply, HeartbeatReply, HeartbeatRequest, RegisterReply, RegisterRequest } from './messages.ts'
import type { Logger } from '../logger.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'

/** A CDN node's end of CONTROL_PROTOCOL. */
export interface ControlClient {
  /** Registers (or re-registers) this peer; resolves with its DNS label. Throws the server's error class on refusal. */
  register (request: Omit<RegisterRequest, 'type'>, options?: { signal?: AbortSignal }): Promise<RegisterReply>
  /** Reports capacity, health and pins. Throws NodeNotRegisteredError when the server wants a registration first. */
  heartbeat (request: Omit<HeartbeatRequest, 'type'>, options?: { signal?: AbortSignal }): Promise<HeartbeatReply>
}

export interface ControlClientComponents {
  libp2p: Pick<Libp2p, 'dialProtocol'>
  logger: Logger
}

export interface ControlClientInit {
  /** The main server's peer ID; the peer store must know an address for it, or a connection must be open. */
  server: PeerId
  /** Deadline of one request (dial, send, reply) when the caller gives no signal of its own. @default 10000 */
  timeoutMs?: number
}

/** A client that sends one request per stream to the main server. */
export function createControlClient (components: ControlClientComponents, init: ControlClientInit): ControlClient {
  const log = components.logger.child({ name: 'cidcast:control-client' })
  const timeoutMs = init.timeoutMs ?? 10_000

  async function call (request: RegisterRequest | HeartbeatRequest, signal?: AbortSignal): Promise<ControlReply> {
    // checked here too: a bad request fails with the same error class before it leaves the machine
    parseControlRequest(request)
    const deadline = AbortSignal.timeout(timeoutMs)
    const combined = signal == null ? deadline : AbortSignal.any([signal, deadline])
    try {
      const stream = await components.libp2p.dialProtocol(init.server, CONTROL_PROTOCOL, { signal: combined })
      try {
        const wire = controlWire(stream)
        await wire.write(request, { signal: combined })
        const reply = parseControlReply(await wire.read({ signal: combined }))
        await stream.close({ signal: combined })
        return reply
      } catch (err: any) {
        stream.abort(err instanceof Error ? err : new Error(String(err)))
        throw err
      }
    } catch (err) {
      if (deadline.aborted && signal?.aborted !== true) {
        throw new ControlTimeoutError(`the server ${init.server.toString()} did not answer a ${request.type} within ${timeoutMs} ms`)
      }
      throw err
    }
  }

  return {
    async register (request, options = {}) {
      const reply = await call({ ...request, type: 'register' }, options.signal)
      if (reply.type === 'error') throw refusal(reply)
      if (reply.type !== 'registered') throw new InvalidControlMessageError(`expected a "registered" reply, got "${reply.type}"`)
      log.debug({ label: reply.label, dnsName: reply.dnsName }, 'registered')
      return reply
    },
    async heartbeat (request, options = {}) {
      const reply = await call({ ...request, type: 'heartbeat' }, options.signal)
      if (reply.type === 'error') throw refusal(reply)
      if (reply.type !== 'ok') throw new InvalidControlMessageError(`expected an "ok" reply, got "${reply.type}"`)
      return reply
    }
  }
}

/** The error a refusal names, as its class when this side knows it (so callers tell "register again" from "banned"). */
export function refusal (reply: ControlReply & { type: 'error' }): Error {
  const Class = CONTROL_ERRORS[reply.error]
  if (Class != null) return new Class(reply.message)
  const err = new ControlRefusedError(`${reply.error}: ${reply.message}`)
  return Object.assign(err, { code: reply.error })
}
