import { findNode, ForbiddenError, NodeRevokedError } from '../control/index.ts'
import { InvalidRequestError } from '../errors.ts'
import { MAX_ROOTS } from './token-codec.ts'
import type { NodeMode } from '../control/index.ts'
import type { SigningKeyRing } from './signing-keys.ts'
import type { StreamTokenSigner } from './stream-token.ts'

/*
 * Signed stream URLs (issue 11, item 4), on the main server: for a user, a media and optionally a CDN node, a
 * token covering that media's playlists and segments and its rendition roots under `/ipfs` (every finished
 * rendition's root and the media's own directory), and the URL of the master playlist on that node's registered
 * gateway (or on the main server itself) carrying it. The node checks it offline; the player asks again before
 * `expiresAt`. Roots finished after the token was signed are covered by the next one.
 */

/** How long a play URL lives when the caller does not say: a long film and then some. */
export const DEFAULT_STREAM_TTL_SECONDS = 6 * 60 * 60

/** What the service needs to know of a media: its finished renditions' roots and its own directory. */
export interface StreamMedia {
  id: string
  renditions: ReadonlyArray<{ state: string, root: string | null }>
  /** The media-level directory (master.m3u8 over the finished renditions), once one exists. */
  root: string | null
}

/** What the service needs to know of a node (the registry's view). */
export interface StreamNode {
  name: string
  label: string
  peerId: string
  mode: NodeMode
  url: string
  revoked: boolean
  /** The user id of its owner (`--owner USER`), null when it has none. */
  ownerId?: string | null
}

export interface StreamUrlComponents {
  signer: Pick<StreamTokenSigner, 'sign'>
  keys: Pick<SigningKeyRing, 'retireAfterSeconds'>
  /** The media of that id; MediaNotFoundError when there is none. */
  media: (id: string) => Promise<StreamMedia>
  /** Every registered node (looked up by name, label or peer ID; NodeNotFoundError when none matches). */
  nodes: () => Promise<StreamNode[]>
  /** The main server's own URL, for a play URL without a node. */
  serverUrl: () => string
  /**
   * The user id a `local` node serves (issue 11, item 5: the user it was registered for, `--owner USER`; the main
   * server reads the registry's `ownerId`). Absent, or undefined for a node, and a local node serves nobody.
   */
  ownerOf?: (node: StreamNode) => string | undefined
}

/** Whom, what and where a play URL is for. */
export interface StreamUrlRequest {
  userId: string
  mediaId: string
  /** A node's name, label or peer ID; the main server itself when absent. */
  node?: string
  /** Seconds the URL lives: 1 to the key ring's `retireAfterSeconds`. @default the service's `defaultTtlSeconds` */
  ttlSeconds?: number
}

/** A signed play URL. */
export interface StreamUrl {
  /** The master playlist with `?token=`: plays in hls.js with no headers. */
  url: string
  expiresAt: Date
  token: string
}

export interface StreamUrls {
  /** The longest TTL a URL may have (the key ring's `retireAfterSeconds`). */
  readonly maxTtlSeconds: number
  /** Signs a play URL; MediaNotFoundError, NodeNotFoundError (404), NodeRevokedError, ForbiddenError (403), InvalidRequestError (400). */
  create (request: StreamUrlRequest): Promise<StreamUrl>
}

export interface StreamUrlInit {
  /** Seconds a URL lives when the request does not say (capped at the key ring's `retireAfterSeconds`). @default 21600 */
  defaultTtlSeconds?: number
}

/** Creates the main server's play URL service over its token signer. */
export function createStreamUrls (components: StreamUrlComponents, init: StreamUrlInit = {}): StreamUrls {
  const maxTtlSeconds = components.keys.retireAfterSeconds
  const defaultTtlSeconds = Math.min(init.defaultTtlSeconds ?? DEFAULT_STREAM_TTL_SECONDS, maxTtlSeconds)
  return {
    maxTtlSeconds,
    async create (request) {
      const ttlSeconds = request.ttlSeconds ?? defaultTtlSeconds
      // refused before anything is looked up, with the bounds in words
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > maxTtlSeconds) throw new InvalidRequestError(`ttl must be a whole number of seconds from 1 to ${maxTtlSeconds}`)
      const base = request.node === undefined ? components.serverUrl() : servingNode(findNode(await components.nodes(), request.node), request.userId, components.ownerOf).url
      const media = await components.media(request.mediaId)
      const roots = [...media.renditions.filter(r => r.state === 'complete' && r.root != null).map(r => r.root as string), ...(media.root == null ? [] : [media.root])]
      if (roots.length > MAX_ROOTS) throw new InvalidRequestError(`media ${media.id} has more than ${MAX_ROOTS} roots to cover`)
      const signed = components.signer.sign({ userId: request.userId, mediaId: media.id, roots }, { ttlSeconds })
      return {
        url: `${base.replace(/\/+$/, '')}/media/${encodeURIComponent(media.id)}/master.m3u8?token=${signed.token}`,
        expiresAt: signed.expiresAt,
        token: signed.token
      }
    }
  }
}

/** The node a URL may point at for `userId`: not revoked, and a local one only for its owner. */
function servingNode (node: StreamNode, userId: string, ownerOf: StreamUrlComponents['ownerOf']): StreamNode {
  if (node.revoked) throw new NodeRevokedError(`node ${node.label} is revoked`)
  if (node.mode === 'local' && ownerOf?.(node) !== userId) throw new ForbiddenError(`node ${node.label} is a local node that serves only its owner`)
  return node
}
