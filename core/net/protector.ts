import { InvalidParametersError } from '@libp2p/interface'
import { AbstractMultiaddrConnection, byteStream } from '@libp2p/utils'
import { SWARM_KEY_BYTES, parseSwarmKey } from '../config/index.ts'
import { CidcastError } from '../errors.ts'
import { NONCE_BYTES, createXSalsa20Stream } from './xsalsa20-stream.ts'
import type { XSalsa20Stream, XSalsa20StreamInit } from './xsalsa20-stream.ts'
import type { AbortOptions, ConnectionProtector, Logger, MultiaddrConnection, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import type { SendResult } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'

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
}

/** Builds the `connectionProtector` factory libp2p takes, for the private network of `psk`. */
export function preSharedKey (init: PreSharedKeyInit): (components?: unknown) => ConnectionProtector {
  const key = init.psk.length === SWARM_KEY_BYTES ? init.psk.slice() : parseSwarmKey(init.psk)
  const timeoutMs = init.timeoutMs ?? 1000
  return () => new PreSharedKeyProtector(key, timeoutMs, { core: init.core })
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
    // the buffers belong to the layer above (noise) and may be kept or reused there: encrypt into one new
    // buffer, which also turns a list of small frames into a single transport write
    const length = data.byteLength
    // start the buffer so that whole keystream blocks land on 4-byte boundaries (see xsalsa20-stream.ts)
    const pad = this.outbound.position % 4
    const out = Buffer.allocUnsafe(pad + length).subarray(pad)
    let offset = 0
    for (const buf of data) {
      this.outbound.xor(buf, out.subarray(offset, offset + buf.byteLength))
      offset += buf.byteLength
    }
    return { sentBytes: length, canSendMore: this.maConn.send(out) }
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
