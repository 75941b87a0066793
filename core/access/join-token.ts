import { JoinTokenInvalidError } from './errors.ts'

/*
 * The join token of a node invitation (issue 14): one line an admin hands to whoever runs a node, carrying all it
 * needs: where the main server is (its HTTP URL and libp2p addresses), the private network's swarm key, and the
 * invitation's id and one-time secret. `ccj_` + base64url of a small JSON object; the prefix tells people and
 * secret scanners what it is, as `ccs_`/`cca_` do for sessions and API tokens. It holds the swarm key: it is a
 * secret, shown once, never logged, and the invitation it names is spent by the first node that joins with it.
 */

export const JOIN_TOKEN_PREFIX = 'ccj_'
/** The longest token read: a few addresses and a URL fit in far less. */
const MAX_TOKEN_CHARS = 8192

/** What a join token carries. */
export interface JoinToken {
  /** The main server's HTTP URL. */
  url: string
  /** The main server's libp2p multiaddrs, each ending in /p2p/<peer id>. */
  addresses: string[]
  /** The swarm key's 64 hex digits. */
  swarmKey: string
  /** The invitation's id and one-time secret. */
  id: string
  secret: string
}

/** Encodes a join token. */
export function encodeJoinToken (token: JoinToken): string {
  const body = { v: 1, url: token.url, addrs: token.addresses, key: token.swarmKey, id: token.id, secret: token.secret }
  return JOIN_TOKEN_PREFIX + Buffer.from(JSON.stringify(body)).toString('base64url')
}

/** Decodes a join token, or throws JoinTokenInvalidError saying what is wrong with it (never quoting it). */
export function decodeJoinToken (text: string): JoinToken {
  const trimmed = typeof text === 'string' ? text.trim() : ''
  if (trimmed === '') throw new JoinTokenInvalidError('the join token is empty')
  if (trimmed.length > MAX_TOKEN_CHARS) throw new JoinTokenInvalidError(`the join token is longer than ${MAX_TOKEN_CHARS} characters`)
  if (!trimmed.startsWith(JOIN_TOKEN_PREFIX)) throw new JoinTokenInvalidError(`a join token starts with "${JOIN_TOKEN_PREFIX}" (made by "cidcast nodes invite")`)
  const encoded = trimmed.slice(JOIN_TOKEN_PREFIX.length)
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) throw new JoinTokenInvalidError('the join token has characters it cannot have: was it copied whole?')
  let body: Record<string, unknown>
  try {
    body = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'))
  } catch {
    throw new JoinTokenInvalidError('the join token is cut short or damaged: copy it again, whole')
  }
  if (body == null || typeof body !== 'object' || Array.isArray(body)) throw new JoinTokenInvalidError('the join token is damaged: copy it again, whole')
  if (body.v !== 1) throw new JoinTokenInvalidError(`the join token is of version ${String(body.v).slice(0, 8)}; this node reads version 1`)
  const url = body.url
  if (typeof url !== 'string' || !isHttpUrl(url)) throw new JoinTokenInvalidError('the join token has no main server URL')
  const addrs = body.addrs
  if (!Array.isArray(addrs) || addrs.length > 32 || !addrs.every(a => typeof a === 'string' && a.length < 512)) throw new JoinTokenInvalidError('the join token\'s main server addresses are damaged')
  if (typeof body.key !== 'string' || !/^[0-9a-f]{64}$/i.test(body.key)) throw new JoinTokenInvalidError('the join token\'s swarm key is damaged')
  if (typeof body.id !== 'string' || !/^[0-9a-f]{16}$/.test(body.id)) throw new JoinTokenInvalidError('the join token\'s invitation id is damaged')
  if (typeof body.secret !== 'string' || !/^[A-Za-z0-9_-]{32,128}$/.test(body.secret)) throw new JoinTokenInvalidError('the join token\'s secret is damaged')
  return { url: url.replace(/\/+$/, ''), addresses: addrs as string[], swarmKey: body.key.toLowerCase(), id: body.id, secret: body.secret }
}

function isHttpUrl (text: string): boolean {
  try {
    const url = new URL(text)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}
