import { once } from 'node:events'
import { CidcastError } from '../errors.ts'
import { ControlTimeoutError } from './errors.ts'
import { CONTROL_PROTOCOL } from './messages.ts'
import { parseControlRequest } from './validate.ts'
import { controlWire } from './wire.ts'
import type { ControlReply, HeartbeatReply, HeartbeatRequest, RegisterReply, RegisterRequest } from './messages.ts'
import type { Logger } from '../logger.ts'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'

/** What the server does with a checked request; `peer` is the connection's remote peer (proven by noise). */
export interface ControlHandler {
  register (peer: PeerId, request: RegisterRequest): Promise<RegisterReply>
  heartbeat (peer: PeerId, request: HeartbeatRequest): Promise<HeartbeatReply>
}

export interface ControlServerComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  logger: Logger
  handler: ControlHandler
}

export interface ControlServerInit {
  /** Time a stream has to deliver its request and take its reply. @default 10000 */
  timeoutMs?: number
  /** Control streams one connection may have open at once. @default 4 */
  maxInboundStreams?: number
}

/** The main server's end of CONTROL_PROTOCOL. */
export interface ControlServer {
  start (): Promise<void>
  /** Stops taking streams and waits for the ones in progress. */
  stop (): Promise<void>
}

/** Serves CONTROL_PROTOCOL on `libp2p`: one request and one reply per stream, every field checked. */
export function createControlServer (components: ControlServerComponents, init: ControlServerInit = {}): ControlServer {
  return new Libp2pControlServer(components, init)
}

class Libp2pControlServer implements ControlServer {
  private readonly log: Logger
  private readonly timeoutMs: number
  private readonly maxInboundStreams: number
  private readonly active = new Set<Promise<void>>()
  private started = false

  constructor (private readonly components: ControlServerComponents, init: ControlServerInit) {
    this.log = components.logger.child({ name: 'cidcast:control' })
    this.timeoutMs = init.timeoutMs ?? 10_000
    this.maxInboundStreams = init.maxInboundStreams ?? 4
  }

  async start (): Promise<void> {
    if (this.started) return
    await this.components.libp2p.handle(CONTROL_PROTOCOL, (stream, connection) => {
      const work = this.serve(stream, connection).finally(() => { this.active.delete(work) })
      this.active.add(work)
    }, { maxInboundStreams: this.maxInboundStreams })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.components.libp2p.unhandle(CONTROL_PROTOCOL)
    await Promise.allSettled([...this.active])
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer
    const signal = AbortSignal.timeout(this.timeoutMs)
    const wire = controlWire(stream)
    try {
      let reply: ControlReply
      try {
        const request = parseControlRequest(await wire.read({ signal }), peer.toString())
        reply = request.type === 'register'
          ? await this.components.handler.register(peer, request)
          : await this.components.handler.heartbeat(peer, request)
      } catch (err: any) {
        if (signal.aborted) throw new ControlTimeoutError(`no request within ${this.timeoutMs} ms`)
        // the stream itself broke: nobody is left to read a reply
        if (err?.name === 'UnexpectedEOFError' || stream.status !== 'open') throw err
        reply = this.errorReply(err, peer)
      }
      await wire.write(reply, { signal })
      await stream.close({ signal })
      // a client closes its end once it has the reply; one that does not would hold one of the few stream slots
      if (stream.status !== 'closed') await once(stream, 'close', { signal })
    } catch (err: any) {
      this.log.debug({ err, peer: peer.toString() }, 'control stream failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  private errorReply (err: any, peer: PeerId): ControlReply {
    if (err instanceof CidcastError) {
      this.log.info({ peer: peer.toString(), error: err.name, message: err.message }, 'control request refused')
      return { type: 'error', error: err.name, message: err.message }
    }
    this.log.error({ err, peer: peer.toString() }, 'control request failed')
    return { type: 'error', error: 'InternalError', message: 'internal error' }
  }
}
