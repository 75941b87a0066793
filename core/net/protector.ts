import { InvalidParametersError } from '@libp2p/interface'
import { AbstractMultiaddrConnection, byteStream } from '@libp2p/utils'
import { SWARM_KEY_BYTES, parseSwarmKey } from '../config/index.ts'
import { CidcastError } from '../errors.ts'
import { SendBuffers } from './send-buffers.ts'
import { NONCE_BYTES, createXSalsa20Stream } from './xsalsa20-stream.ts'
import type { XSalsa20Stream, XSalsa20StreamInit } from './xsalsa20-stream.ts'
import type { AbortOptions, ConnectionProtector, Logger, MultiaddrConnection, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import type { SendResult } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'

/**
 * A libp2p connection protector for private networks (PSK v1, as in go-libp2p and `@libp2p/pnet`): each
 * side sends a random 24-byte nonce, then everything it writes is XORed with XSalsa20(swarm key, its nonce).
 * The wire format is `@libp2p/pnet`'s, so Kubo peers with the same `swarm.key` interoperate; the cipher is our own
 * (xsalsa20-stream.ts: a WebAssembly SIMD Salsa20 core, `@noble/ciphers` where WebAssembly SIMD is missing) instead
 * of the `xsalsa20` package, whose WebAssembly memory grows until the connection dies after ~60 MB (see PITFALLS).
 */

/** Kubo refuses to start without a swarm key when this is set to `1`. */
export const FORCE_PNET_ENV = 'LIBP2P_FORCE_PNET'

/** LIBP2P_FORCE_PNET=1 is set and no swarm key was given. */
export class PrivateNetworkRequiredError extends CidcastError {
  static override readonly code = 'PrivateNetworkRequiredError'
  override readonly name = 'PrivateNetworkRequiredError'
}

export interface PreSharedKeyInit {
  /** The 32-byte key (see `parseSwarmKey`); the text of a `swarm.key` file is accepted as well. */
  psk: Uint8Array
  /** The nonce exchange must finish within this when libp2p passes no abort signal. @default 1000 */
  timeoutMs?: number
  /** The Salsa20 core (the bench compares them). @default 'wasm' where the runtime has WebAssembly SIMD */
  core?: XSalsa20StreamInit['core']
  /** Busy directions get their keystream made ahead on a worker thread (the bench compares). @default true */
  prefetch?: boolean
}

/** Builds the `connectionProtector` factory libp2p takes, for the private network of `psk`. */
export function preSharedKey (init: PreSharedKeyInit): (components?: unknown) => ConnectionProtector {
  const key = init.psk.length === SWARM_KEY_BYTES ? init.psk.slice() : parseSwarmKey(init.psk)
  const timeoutMs = init.timeoutMs ?? 1000
  return () => new PreSharedKeyProtector(key, timeoutMs, { core: init.core, prefetch: init.prefetch })
}

/** Throws PrivateNetworkRequiredError when LIBP2P_FORCE_PNET=1 is set and `psk` is missing (Kubo's rule). */
export function assertPrivateNetworkAllowed (psk: Uint8Array | undefined, env: NodeJS.ProcessEnv = process.env): void {
  if (env[FORCE_PNET_ENV] === '1' && (psk == null || psk.length === 0)) {
    throw new PrivateNetworkRequiredError(`${FORCE_PNET_ENV}=1 is set, so a private network is required, but no swarm key was given`)
  }
}

class PreSharedKeyProtector implements ConnectionProtector {
  readonly [Symbol.toStringTag] = 'cidcast:pnet'

  constructor (private readonly key: Uint8Array, private readonly timeoutMs: number, private readonly cipher: XSalsa20StreamInit) {}

  // libp2p protects the raw transport connection, before encryption and muxing, so it is a MultiaddrConnection
  async protect (connection: MultiaddrConnection, options?: AbortOptions): Promise<MultiaddrConnection> {
    if (connection == null) {
      throw new InvalidParametersError('no connection to protect')
    }
    const log = connection.log.newScope('pnet')
    const localNonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES))
    const signal = options?.signal ?? AbortSignal.timeout(this.timeoutMs)

    const bytes = byteStream(connection)
    const [remote] = await Promise.all([
      bytes.read({ bytes: NONCE_BYTES, signal }),
      bytes.write(localNonce, { signal })
    ])
    log('exchanged nonces')

    return new PskConnection({
      maConn: bytes.unwrap(),
      log,
      outbound: createXSalsa20Stream(this.key, localNonce, this.cipher),
      inbound: createXSalsa20Stream(this.key, remote.subarray(), this.cipher)
    })
  }
}

interface PskConnectionInit {
  maConn: MultiaddrConnection
  log: Logger
  outbound: XSalsa20Stream
  inbound: XSalsa20Stream
}

/** The protected connection: XORs bytes on their way to and from the raw connection underneath. */
class PskConnection extends AbstractMultiaddrConnection {
  private readonly maConn: MultiaddrConnection
  private readonly outbound: XSalsa20Stream
  private readonly inbound: XSalsa20Stream
  private readonly sendBuffers: SendBuffers

  constructor (init: PskConnectionInit) {
    super({
      log: init.log,
      remoteAddr: init.maConn.remoteAddr,
      direction: init.maConn.direction,
      inactivityTimeout: init.maConn.inactivityTimeout
    })
    this.maConn = init.maConn
    this.outbound = init.outbound
    this.inbound = init.inbound
    this.sendBuffers = new SendBuffers(init.maConn)

    this.maConn.addEventListener('message', (evt: StreamMessageEvent) => {
      try {
        this.onData(this.decrypt(evt.data))
      } catch (err: any) {
        this.abort(err)
      }
    })
    // resume sending when the raw connection can take more
    this.maConn.addEventListener('drain', () => {
      this.onMuxerDrain()
    })
    // keystream made ahead for either direction is let go with the connection
    this.addEventListener('close', () => {
      this.outbound.release()
      this.inbound.release()
    })
    this.maConn.addEventListener('close', (evt: StreamCloseEvent) => {
      if (evt.error != null) {
        if (evt.local === true) {
          this.abort(evt.error)
        } else {
          this.onRemoteReset()
        }
      } else {
        this.onTransportClosed()
      }
    })
  }

  /**
   * Decrypts in place: the buffers come straight from the transport's reads, nothing else keeps or reads
   * them once the raw connection is protected, so a copy would only cost an allocation per chunk.
   */
  private decrypt (data: Uint8Array | Uint8ArrayList): Uint8Array | Uint8ArrayList {
    if (data instanceof Uint8Array) {
      this.inbound.xor(data)
    } else {
      for (const buf of data) this.inbound.xor(buf)
    }
    return data
  }

  sendData (data: Uint8ArrayList): SendResult {
    // the buffers belong to the layer above (noise and, before it, the handshakes) and may be kept there: encrypt
    // into buffers of our own, which also turns a list of small frames into few transport writes
    const length = data.byteLength
    const pieces = this.sendBuffers.pieces(length, this.outbound.position)
    let piece = 0
    let offset = 0
    for (const buf of data) {
      let done = 0
      while (done < buf.byteLength) {
        const out = pieces[piece]
        const n = Math.min(buf.byteLength - done, out.byteLength - offset)
        this.outbound.xor(buf.subarray(done, done + n), out.subarray(offset, offset + n))
        done += n
        offset += n
        if (offset === out.byteLength) {
          piece++
          offset = 0
        }
      }
    }
    return { sentBytes: length, canSendMore: this.maConn.send(pieces.length === 1 ? pieces[0] : new Uint8ArrayList(...pieces)) }
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    await this.maConn.close(options)
  }

  sendReset (err: Error): void {
    this.maConn.abort(err)
  }

  sendPause (): void {
    this.maConn.pause()
  }

  sendResume (): void {
    this.maConn.resume()
  }
}
