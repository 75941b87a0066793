import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { noise } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { nativeNoiseCrypto, preSharedKey } from '../core/net/index.ts'
import { tuneGarbageCollection } from '../core/gc-tuning.ts'
import { median } from './table.ts'
import type { ICryptoInterface, NoiseComponents } from '@chainsafe/libp2p-noise'
import type { ComponentLogger, Connection, ConnectionEncrypter, ConnectionProtector, Logger, MessageStream, MultiaddrConnection, StreamMessageEvent, Upgrader } from '@libp2p/interface'

/**
 * Two ends of one loopback TCP connection made by libp2p's own TCP transport, each optionally wrapped by
 * a connection protector, with no encryption or muxer on top: what is measured is the protector alone.
 */

export interface TcpPair {
  dialer: MessageStream
  listener: MessageStream
  close: () => Promise<void>
}

export interface ProtectorFigures {
  /** Bytes sent one way, each round. */
  bytes: number
  /** Throughput through one protected connection (the default Salsa20 core), median of the rounds. */
  mbPerSecond: number
  /** The same with the JavaScript Salsa20 core (`@noble/ciphers`), median of the rounds. */
  jsMbPerSecond: number
  /** The default core without keystream made ahead on a worker thread, median of the rounds. */
  noPrefetchMbPerSecond: number
  /** Throughput through the same kind of connection without a protector, median of the rounds. */
  rawMbPerSecond: number
  /** Every round's figures, in order: protected, JavaScript core, raw. */
  rounds: Array<{ mbPerSecond: number, jsMbPerSecond: number, noPrefetchMbPerSecond: number, rawMbPerSecond: number }>
}

/** Opens a loopback TCP connection and protects each end with the given protector (none: raw TCP). */
export async function tcpPair (dialerProtector?: ConnectionProtector, listenerProtector?: ConnectionProtector): Promise<TcpPair> {
  const transport = tcp()({ logger: silentComponentLogger() })
  const inbound = Promise.withResolvers<MultiaddrConnection>()
  const outbound = Promise.withResolvers<MultiaddrConnection>()
  // the transport hands each raw connection to the upgrader; keep it instead of upgrading it
  const upgrader = {
    upgradeInbound: async (maConn: MultiaddrConnection) => { inbound.resolve(maConn) },
    upgradeOutbound: async (maConn: MultiaddrConnection) => {
      outbound.resolve(maConn)
      return maConn as unknown as Connection
    }
  } as unknown as Upgrader
  const listener = transport.createListener({ upgrader })
  await listener.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  const [address] = listener.getAddrs()
  // not a timeout: the transport hands the signal to net.connect, which destroys the socket when it fires
  await transport.dial(address, { upgrader, signal: new AbortController().signal })
  const [a, b] = await Promise.all([outbound.promise, inbound.promise])
  const close = async (): Promise<void> => {
    a.abort(new Error('closed'))
    b.abort(new Error('closed'))
    await listener.close()
  }
  try {
    const signal = AbortSignal.timeout(5000)
    const [dialer, accepted] = await Promise.all([
      dialerProtector?.protect(a, { signal }) ?? a,
      listenerProtector?.protect(b, { signal }) ?? b
    ])
    return { dialer, listener: accepted, close }
  } catch (err) {
    await close()
    throw err
  }
}

/** Sends `count` copies of `chunk` through `stream`, waiting for the transport to drain when it is full. */
export async function sendRepeated (stream: MessageStream, chunk: Uint8Array, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (!stream.send(chunk)) await drained(stream)
  }
}

/**
 * Waits for the next 'drain'. Not `stream.onDrain()`: in @libp2p/utils 7.4 its promise is never re-armed
 * after the first drain, so later calls resolve at once and the writer buffers without limit.
 */
export async function drained (stream: MessageStream): Promise<void> {
  const { promise, resolve, reject } = Promise.withResolvers<void>()
  const onDrain = (): void => { resolve() }
  const onClose = (): void => { reject(new Error('closed while waiting to send')) }
  stream.addEventListener('drain', onDrain)
  stream.addEventListener('close', onClose)
  try {
    await promise
  } finally {
    stream.removeEventListener('drain', onDrain)
    stream.removeEventListener('close', onClose)
  }
}

/** Resolves with the SHA-256 (hex) of the first `bytes` bytes that arrive on `stream`. */
export async function receiveHash (stream: MessageStream, bytes: number): Promise<string> {
  const hash = createHash('sha256')
  let received = 0
  const done = Promise.withResolvers<string>()
  const onMessage = (evt: StreamMessageEvent): void => {
    for (const buf of evt.data instanceof Uint8Array ? [evt.data] : evt.data) {
      hash.update(buf)
      received += buf.byteLength
    }
    if (received >= bytes) done.resolve(hash.digest('hex'))
  }
  stream.addEventListener('message', onMessage)
  stream.addEventListener('close', () => { done.reject(new Error(`closed after ${received}/${bytes} bytes`)) })
  try {
    return await done.promise
  } finally {
    stream.removeEventListener('message', onMessage)
  }
}

/** The SHA-256 (hex) of `chunk` repeated `count` times. */
export function repeatedHash (chunk: Uint8Array, count: number): string {
  const hash = createHash('sha256')
  for (let i = 0; i < count; i++) hash.update(chunk)
  return hash.digest('hex')
}

export interface SecuredFigures {
  bytes: number
  /** pnet + noise with cidcast's noise crypto (core/net/noise-crypto.ts), median of the rounds. */
  mbPerSecond: number
  /** pnet + noise with `@chainsafe/libp2p-noise`'s default crypto, median of the rounds. */
  defaultMbPerSecond: number
  rounds: Array<{ mbPerSecond: number, defaultMbPerSecond: number }>
}

/** A protected loopback connection with a noise session on top (no muxer), as every libp2p connection here has. */
export async function securedPair (psk: Uint8Array, crypto: ICryptoInterface): Promise<TcpPair> {
  const pair = await tcpPair(preSharedKey({ psk })(), preSharedKey({ psk })())
  const upgrader = { getStreamMuxers: () => new Map() }
  const make = async (): Promise<ConnectionEncrypter> => noise({ crypto })({ privateKey: await generateKeyPair('Ed25519'), logger: silentComponentLogger(), upgrader } as unknown as NoiseComponents)
  const [a, b] = [await make(), await make()]
  const [dialer, listener] = await Promise.all([
    a.secureOutbound(pair.dialer, { skipStreamMuxerNegotiation: true }),
    b.secureInbound(pair.listener, { skipStreamMuxerNegotiation: true })
  ])
  return { dialer: dialer.connection, listener: listener.connection, close: pair.close }
}

/** One-way throughput through pnet + noise, cidcast's noise crypto against the default, `rounds` rounds back to back. */
export async function benchSecured (bytes = 256 * 1024 * 1024, rounds = 3): Promise<SecuredFigures> {
  const chunk = randomBytes(1024 * 1024)
  const count = Math.max(1, Math.round(bytes / chunk.length))
  const total = count * chunk.length
  const psk = randomBytes(32)
  const mbPerSecond = (ms: number): number => total / 1e6 / (ms / 1000)
  const each: SecuredFigures['rounds'] = []
  // a warm-up round, not counted (as benchProtector's)
  for (let round = -1; round < rounds; round++) {
    const ours = await timeOneWay(await securedPair(psk, nativeNoiseCrypto), chunk, count)
    const theirs = await timeOneWay(await securedPair(psk, defaultCrypto), chunk, count)
    if (round < 0) continue
    each.push({ mbPerSecond: mbPerSecond(ours), defaultMbPerSecond: mbPerSecond(theirs) })
  }
  return { bytes: total, mbPerSecond: median(each.map(r => r.mbPerSecond)), defaultMbPerSecond: median(each.map(r => r.defaultMbPerSecond)), rounds: each }
}

/**
 * Measures one-way throughput through one protected loopback connection against raw TCP, in `rounds` rounds that
 * each run raw TCP, the protector, the protector on the JavaScript core and without the keystream worker back to
 * back (medians reported), after a warm-up round.
 */
export async function benchProtector (bytes = 256 * 1024 * 1024, rounds = 3): Promise<ProtectorFigures> {
  const chunk = randomBytes(1024 * 1024)
  const count = Math.max(1, Math.round(bytes / chunk.length))
  const total = count * chunk.length
  const psk = randomBytes(32)
  const mbPerSecond = (ms: number): number => total / 1e6 / (ms / 1000)
  const each: ProtectorFigures['rounds'] = []
  // the first round warms up (compiled code, the keystream worker, the heap's size) and is not counted: counted, it
  // ran at a third to a half of the others' speed, raw TCP the slowest (an eighth of the bytes did not warm up enough)
  for (let round = -1; round < rounds; round++) {
    const rawMs = await timeOneWay(await tcpPair(), chunk, count)
    const protectedMs = await timeOneWay(await tcpPair(preSharedKey({ psk })(), preSharedKey({ psk })()), chunk, count)
    const jsMs = await timeOneWay(await tcpPair(preSharedKey({ psk, core: 'js' })(), preSharedKey({ psk, core: 'js' })()), chunk, count)
    const noPrefetchMs = await timeOneWay(await tcpPair(preSharedKey({ psk, prefetch: false })(), preSharedKey({ psk, prefetch: false })()), chunk, count)
    if (round < 0) continue
    each.push({ mbPerSecond: mbPerSecond(protectedMs), jsMbPerSecond: mbPerSecond(jsMs), noPrefetchMbPerSecond: mbPerSecond(noPrefetchMs), rawMbPerSecond: mbPerSecond(rawMs) })
  }
  return {
    bytes: total,
    mbPerSecond: median(each.map(r => r.mbPerSecond)),
    jsMbPerSecond: median(each.map(r => r.jsMbPerSecond)),
    noPrefetchMbPerSecond: median(each.map(r => r.noPrefetchMbPerSecond)),
    rawMbPerSecond: median(each.map(r => r.rawMbPerSecond)),
    rounds: each
  }
}

/**
 * A full collection, so that no figure pays for the garbage of the one measured before it in this process: the raw
 * TCP baseline ran right after the protector's rounds and collected their buffers (its figure moved 610 -> 850 MB/s
 * when the protector stopped making garbage).
 */
function collectGarbage (): void {
  setFlagsFromString('--expose-gc')
  ;(runInNewContext('gc') as () => void)()
}

async function timeOneWay (pair: TcpPair, chunk: Uint8Array, count: number): Promise<number> {
  try {
    collectGarbage()
    const started = performance.now()
    await Promise.all([
      sendRepeated(pair.dialer, chunk, count),
      receiveHash(pair.listener, chunk.length * count)
    ])
    return performance.now() - started
  } finally {
    await pair.close()
  }
}

/** A component logger that drops everything (libp2p parts built outside a node need one). */
export function silentComponentLogger (): ComponentLogger {
  const log: Logger = Object.assign(() => {}, {
    error: () => {},
    trace: () => {},
    enabled: false,
    newScope: () => log
  })
  return { forComponent: () => log }
}

/**
 * glibc gives freed heap memory back to the kernel once 128 KiB lie free at its top, so each round of 256 MiB through
 * 64 KiB socket reads met fresh pages again: 13,000-65,000 page faults a round (each ~13 us in this virtual machine),
 * raw TCP's figure 160-830 MB/s from round to round and the protector's ratio to it meaningless. A process of its own
 * that keeps up to 1 GiB of freed memory (for both the baseline and the protector) measures the connection instead.
 */
const KEEP_FREED_MEMORY = 'glibc.malloc.trim_threshold=1073741824'

/** benchProtector then benchSecured, in a process of their own whose allocator keeps freed memory (above). */
export async function benchConnectionsInChild (bytes: number, rounds: number): Promise<{ protector: ProtectorFigures, secured: SecuredFigures }> {
  const { stdout } = await promisify(execFile)(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), String(bytes), String(rounds)], {
    env: { ...process.env, GLIBC_TUNABLES: [process.env.GLIBC_TUNABLES, KEEP_FREED_MEMORY].filter(Boolean).join(':') },
    maxBuffer: 1024 * 1024
  })
  return JSON.parse(stdout)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // as the daemons do
  tuneGarbageCollection()
  const bytes = Number(process.argv[2] ?? 256 * 1024 * 1024)
  const rounds = Number(process.argv[3] ?? 3)
  process.stdout.write(`${JSON.stringify({ protector: await benchProtector(bytes, rounds), secured: await benchSecured(bytes, rounds) })}\n`)
}
