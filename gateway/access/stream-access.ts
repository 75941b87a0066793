import { Readable } from 'node:stream'
import { NODE_CREDENTIAL_HEADER, OwnerOnlyError, TokenInvalidError } from '../../core/access/index.ts'
import { PLAYLIST_TYPE } from '../media-http.ts'
import { userOf } from './caller.ts'
import { carryToken } from './playlist-token.ts'
import type { NodeCredentialVerifier, StreamTokenVerifier, VerifyOptions } from '../../core/access/index.ts'
import type { Context, Middleware, Next } from 'koa'

/*
 * Who may read `/media/{id}/...` and `/ipfs/{root}/...` (issue 11, items 4 and 5), on a CDN node and on the main
 * server alike. A request passes with:
 * - nothing, when media are public (the main server's `publicMedia`, which nodes learn with the keys);
 * - a node's credential (`X-Cidcast-Node`, node-credential.ts): pin fetches between nodes, a node's misses at the main server;
 * - on the main server, a signed-in caller (`userOf(ctx)`, set by the authentication middleware): API clients;
 * - a stream token, in `?token=` or `Authorization: Bearer`, that covers the media of a `/media` path or the root
 *   of an `/ipfs` path (blocks are reached by path under a covered root, `/ipfs/{root}/360p/0.m4s`; a bare block CID
 *   is no root of the token and is refused).
 * No credential: 401 (TokenMissingError); a bad one, another media's or root's: 403; an expired one: 403 saying so.
 * A local node (`onlyUser`) serves the stream tokens of its owner alone: another user's is 403 (OwnerOnlyError);
 * node credentials pass as everywhere.
 * Checked offline, with the public keys alone. A playlist answered under a stream token carries it to its children.
 */

export interface StreamAccessComponents {
  /** Stream tokens: a node's verifier over its key ring, or the main server's over its signing keys. */
  verifier: Pick<StreamTokenVerifier, 'verify'>
  /** Node credentials; without it the header is not looked at. */
  nodes?: Pick<NodeCredentialVerifier, 'verify'>
}

export interface StreamAccessInit {
  /** Read on every request: media need no credential (a node learns it from the main server). */
  publicMedia: () => boolean
  /** A signed-in caller passes without a stream token (the main server). @default false */
  allowCaller?: boolean
  /**
   * Read on every request, on a local node: the one user whose stream tokens pass (its owner's id), null when the node
   * has no owner and so serves nobody. Absent: any user's token passes (shared nodes, the main server).
   */
  onlyUser?: () => string | null
}

/** The request state this middleware leaves for the routes. */
export interface StreamAccessState {
  /** The stream token the request was allowed by. */
  streamToken?: string
  /** The user that token was signed for (a node counts distinct viewers by it). */
  userId?: string
  /** The peer ID of the node whose credential allowed it. */
  node?: string
}

const MEDIA_PATH = /^\/media\/([^/]+)\//
const IPFS_PATH = /^\/ipfs\/([^/?]+)/
const BEARER = /^Bearer\s+(\S+)\s*$/i
const TOKEN_PARAM = /(?:^|&)token=([^&]*)/g
const PLAYLIST_FILE = /\.m3u8$/i
/** Request headers that would make an answer depend on the stored bytes, not on what is sent under the token. */
const CONDITIONAL = ['if-none-match', 'if-modified-since', 'if-range', 'range'] as const

/** What a content path asks a token for, or undefined for a path this middleware leaves alone. */
function targetOf (path: string): VerifyOptions | undefined {
  const media = MEDIA_PATH.exec(path)?.[1] ?? IPFS_PATH.exec(path)?.[1]
  if (media === undefined) return undefined
  let part: string
  try {
    part = decodeURIComponent(media)
  } catch {
    // the route refuses it too; a token cannot cover what has no name
    part = media
  }
  return path.startsWith('/media/') ? { mediaId: part } : { root: part }
}

/** The stream token of a request: `?token=` first, then a bearer token; TokenInvalidError for a repeated query. */
function tokenOf (ctx: Context): string | undefined {
  // read from the query string itself: parsing the whole query (ctx.query) cost a request more than the check
  const found = [...ctx.querystring.matchAll(TOKEN_PARAM)]
  if (found.length > 1) throw new TokenInvalidError('a request carries one stream token')
  if (found.length === 1) {
    const value = found[0][1]
    try {
      return value.includes('%') || value.includes('+') ? decodeURIComponent(value.replaceAll('+', ' ')) : value
    } catch {
      throw new TokenInvalidError('the stream token is malformed: it is not URL-encoded text')
    }
  }
  return BEARER.exec(ctx.get('Authorization'))?.[1]
}

/** Reads a response body that a route set (text, bytes or a stream) as UTF-8. */
async function bodyText (body: unknown): Promise<string> {
  if (typeof body === 'string') return body
  if (Buffer.isBuffer(body)) return body.toString('utf8')
  if (body instanceof Readable) {
    const parts: Buffer[] = []
    for await (const chunk of body) parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string))
    return Buffer.concat(parts).toString('utf8')
  }
  throw new TypeError('a playlist body is text, bytes or a stream')
}

/** Answers the playlist a route made with the token carried into its child URIs. */
async function playlistUnder (ctx: Context, next: Next, token: string): Promise<void> {
  // the rewritten answer is not the stored file: a 304 or a range of it would be wrong
  for (const name of CONDITIONAL) Reflect.deleteProperty(ctx.request.headers, name)
  await next()
  if (ctx.status !== 200 || ctx.method !== 'GET' || ctx.response.type !== PLAYLIST_TYPE) return
  const text = await bodyText(ctx.body)
  ctx.remove('Etag')
  ctx.remove('Accept-Ranges')
  ctx.body = carryToken(text, token)
}

/** Refuses a stream token of anyone but `owner` (OwnerOnlyError), saying which case it is. */
function checkOwner (userId: string, owner: string | null): void {
  if (owner === null) throw new OwnerOnlyError('this is a local node with no owner, so it serves nobody: start it with --owner USER')
  if (userId !== owner) throw new OwnerOnlyError('this is a local node that serves only its owner')
}

/** The access check of `/media` and `/ipfs`, for the node's app and the main server's. */
export function streamAccess (components: StreamAccessComponents, init: StreamAccessInit): Middleware {
  return async (ctx, next) => {
    const target = targetOf(ctx.path)
    if (target === undefined || ctx.method === 'OPTIONS' || init.publicMedia()) {
      await next()
      return
    }
    const state = ctx.state as StreamAccessState
    const credential = ctx.get(NODE_CREDENTIAL_HEADER)
    if (credential !== '' && components.nodes != null) {
      state.node = components.nodes.verify(credential).peerId
      await next()
      return
    }
    if (init.allowCaller === true && userOf(ctx) != null) {
      await next()
      return
    }
    const token = tokenOf(ctx)
    const claims = components.verifier.verify(token, target)
    if (init.onlyUser != null) checkOwner(claims.userId, init.onlyUser())
    state.streamToken = token
    state.userId = claims.userId
    if (token !== undefined && PLAYLIST_FILE.test(ctx.path)) await playlistUnder(ctx, next, token)
    else await next()
  }
}
