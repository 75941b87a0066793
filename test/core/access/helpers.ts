import { sign } from 'node:crypto'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { createStreamTokenSigner, createStreamTokenVerifier, openSigningKeyRing, SIGNING_KEYS_FILE } from '../../../core/access/index.ts'
import { signedMessage } from '../../../core/access/token-codec.ts'
import { createLogger, silentLogger } from '../../../core/logger.ts'
import { manualClock } from '../../helpers/clock.ts'
import { tempDir } from '../../helpers/tmp.ts'
import type { SigningKeyRing, StreamTokenSigner, StreamTokenVerifier, StreamTokenVerifierInit } from '../../../core/access/index.ts'
import type { Logger } from '../../../core/logger.ts'
import type { ManualClock } from '../../helpers/clock.ts'
import type { ExecutionContext } from 'ava'
import type { MultihashDigest } from 'multiformats/hashes/interface'

/** A fixed start for every test clock: 2030-01-01T00:00:00Z, in epoch milliseconds. */
export const T0 = Date.UTC(2030, 0, 1)
export const MEDIA = '0123456789abcdef'
export const USER = 'alice'

/** A CID of `dag-pb` (a UnixFS directory, as rendition roots are) over the given text. */
export async function rootOf (text: string): Promise<CID<unknown, 0x70, 0x12, 1>> {
  const digest = await sha256.digest(new TextEncoder().encode(text)) as MultihashDigest<0x12>
  return CID.createV1(0x70, digest)
}

/** A main server's keys, signer and verifier in a temporary data folder, on a clock the test moves. */
export interface TokenSetup {
  dir: string
  keysPath: string
  keys: SigningKeyRing
  signer: StreamTokenSigner
  verifier: StreamTokenVerifier
  /** The test clock, starting at T0. */
  clock: ManualClock
}

/** Opens a signing key ring in a fresh folder (removed after the test) with a signer and a verifier over it. */
export async function tokenSetup (t: ExecutionContext, options: { retireAfterSeconds?: number, logger?: Logger, verifier?: StreamTokenVerifierInit } = {}): Promise<TokenSetup> {
  const dir = await tempDir('cidcast-access-')
  t.teardown(dir.remove)
  const clock = manualClock(T0)
  const keysPath = join(dir.path, SIGNING_KEYS_FILE)
  const keys = await openSigningKeyRing({ logger: options.logger ?? silentLogger(), clock }, { path: keysPath, retireAfterSeconds: options.retireAfterSeconds ?? 3600 })
  return {
    dir: dir.path,
    keysPath,
    keys,
    signer: createStreamTokenSigner({ keys, clock }),
    verifier: createStreamTokenVerifier({ keys, clock }, options.verifier),
    clock
  }
}

/** Fields of a hand-made token payload; any may be bent to make a malformed one. */
export interface RawToken {
  version?: number
  keyId: string
  issuedAt?: number
  expiresAt?: number
  user?: Uint8Array
  media?: Uint8Array
  roots?: Uint8Array[]
  /** Bytes appended after the last field. */
  extra?: Uint8Array
  /** Cut the payload to this many bytes (before signing). */
  cut?: number
  rootCount?: number
}

/** Builds a token by hand in the v1 layout and signs it with `keys`' current key, so only its shape can be wrong. */
export function craftToken (keys: SigningKeyRing, raw: RawToken): string {
  const bytes: number[] = [raw.version ?? 1, ...Buffer.from(raw.keyId, 'hex')]
  const u32 = (n: number): number[] => [...(() => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b })()]
  bytes.push(...u32(raw.issuedAt ?? T0 / 1000), ...u32(raw.expiresAt ?? T0 / 1000 + 600))
  for (const field of [raw.user ?? Buffer.from(USER), raw.media ?? Buffer.from(MEDIA)]) bytes.push(field.length, ...field)
  const roots = raw.roots ?? []
  bytes.push(raw.rootCount ?? roots.length)
  for (const root of roots) bytes.push(root.length, ...root)
  bytes.push(...(raw.extra ?? []))
  const payload = Buffer.from(raw.cut === undefined ? bytes : bytes.slice(0, raw.cut))
  return Buffer.concat([payload, sign(null, signedMessage(payload), keys.current().privateKey)]).toString('base64url')
}

/** A logger whose JSON lines (debug and up) are kept in `text()`. */
export function capturingLogger (): { logger: Logger, text: () => string } {
  const lines: string[] = []
  const destination = new Writable({
    write (chunk: Buffer, _encoding, done) { lines.push(chunk.toString()); done() }
  })
  return { logger: createLogger({ level: 'debug', destination }), text: () => lines.join('') }
}
