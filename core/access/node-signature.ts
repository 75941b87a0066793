import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidCredentialsError } from './errors.ts'
import type { PrivateKey } from '@libp2p/interface'

/*
 * A CDN node proves who it is to the main server over HTTP by signing each of its own requests with its libp2p key
 * (Ed25519, the key its peer ID embeds), so the main server needs no secret per node and nothing to hand out:
 *
 *   Authorization: CidcastNode peer=<peer ID>, time=<unix seconds>, sig=<base64url Ed25519 signature>
 *
 * over `cidcast node request\n<METHOD>\n<path with query>\n<time>`. The main server checks the signature against the
 * public key inside the peer ID, the time within the clock skew, and that the peer is a registered node that is not
 * revoked (the caller's business). A signature is tied to its method and path; one seen on the wire can be replayed
 * for the same request within the skew, which gives nothing a node's own answer did not. A node signs only the
 * requests it makes for itself (media lookups, playlists, segments and blocks it caches), never a viewer's call it
 * passes on through its API proxy.
 */

export const NODE_SCHEME = 'CidcastNode'
const CONTEXT = 'cidcast node request\n'
const HEADER = /^CidcastNode peer=([1-9A-HJ-NP-Za-km-z]{40,80}), time=(\d{1,12}), sig=([A-Za-z0-9_-]{86})$/

/** The Authorization header value for a node's own request. */
export async function signNodeRequest (key: PrivateKey, peerId: string, method: string, path: string, nowMs = Date.now()): Promise<string> {
  const time = Math.floor(nowMs / 1000)
  const signature = await key.sign(new TextEncoder().encode(`${CONTEXT}${method.toUpperCase()}\n${path}\n${time}`))
  return `${NODE_SCHEME} peer=${peerId}, time=${time}, sig=${Buffer.from(signature).toString('base64url')}`
}

/** Whether an Authorization header is a node's signature (rather than a bearer token). */
export function isNodeSignature (header: string): boolean {
  return header.startsWith(`${NODE_SCHEME} `)
}

/** The peer ID whose key signed this request; InvalidCredentialsError when the header is malformed, stale or forged. */
export async function verifyNodeRequest (header: string, method: string, path: string, options: { nowMs?: number, skewSeconds?: number } = {}): Promise<string> {
  const m = HEADER.exec(header)
  if (m == null) throw new InvalidCredentialsError('a node signature must read "CidcastNode peer=<id>, time=<s>, sig=<base64url>"')
  const [, peer, time, sig] = m
  const now = (options.nowMs ?? Date.now()) / 1000
  if (Math.abs(now - Number(time)) > (options.skewSeconds ?? 60)) throw new InvalidCredentialsError('a node signature\'s time is too far from now: check the node\'s clock')
  let publicKey
  try {
    publicKey = peerIdFromString(peer).publicKey
  } catch {
    throw new InvalidCredentialsError('a node signature names a malformed peer ID')
  }
  if (publicKey == null) throw new InvalidCredentialsError('a node signature names a peer ID without its key')
  const ok = await publicKey.verify(new TextEncoder().encode(`${CONTEXT}${method.toUpperCase()}\n${path}\n${time}`), Buffer.from(sig, 'base64url'))
  if (!ok) throw new InvalidCredentialsError('a node signature does not verify')
  return peer
}
