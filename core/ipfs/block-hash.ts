import { createHash } from 'node:crypto'
import type { CID } from 'multiformats/cid'

/*
 * Does a block's bytes hash to its CID? The one check every path uses: blocks read from disk (the verified
 * blockstore), blocks fetched from the origin, a peer or a gateway (core/edge/block-verify.ts), the scrub.
 */

const IDENTITY = 0x00
/** The multihash functions checked here, by code, with their names in node:crypto and WebCrypto. */
const HASHES: Readonly<Record<number, { node: string, web: string }>> = {
  0x12: { node: 'sha256', web: 'SHA-256' },
  0x13: { node: 'sha512', web: 'SHA-512' }
}
/**
 * Blocks at least this big are hashed by WebCrypto on libuv's thread pool, so a 1 MiB leaf (~0.8 ms of sha-256 here)
 * does not hold the event loop every HTTP answer goes through; below it the thread hop costs more than the hash.
 */
const THREAD_POOL_BYTES = 64 * 1024

/** Whether `cid`'s multihash is one this module can check (identity, sha2-256, sha2-512). */
export function checkableHash (cid: CID): boolean {
  const code = cid.multihash.code
  return code === IDENTITY || HASHES[code] != null
}

/** Whether `bytes` hash to `cid`'s multihash; undefined when its hash function is not one this module checks. */
export async function hashMatches (cid: CID, bytes: Uint8Array): Promise<boolean | undefined> {
  const { code, digest } = cid.multihash
  if (code === IDENTITY) return equalBytes(digest, bytes)
  const hash = HASHES[code]
  if (hash == null) return undefined
  const computed = bytes.byteLength >= THREAD_POOL_BYTES
    ? new Uint8Array(await globalThis.crypto.subtle.digest(hash.web, bytes as Uint8Array<ArrayBuffer>))
    : createHash(hash.node).update(bytes).digest()
  return equalBytes(computed, digest)
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0
}
