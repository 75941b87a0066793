import { CID } from 'multiformats/cid'
import { InvalidCIDError, InvalidRequestError } from '../errors.ts'
import { assertPinnableCid } from '../ipfs/index.ts'
import { NothingToReplicateError } from './errors.ts'
import type { ContentIndex, IndexEntry } from './content-index.ts'
import type { PlacementCandidate } from './placement.ts'
import type { NodeView } from './registry.ts'
import type { ReplicableMedia, ReplicationRequest } from './types.ts'
import type { Blockstore } from 'interface-blockstore'

/* What a replication request names: roots (from a media's renditions or a CID) and nodes. */

/** One root to replicate, with the rendition it is when known. */
export interface Root {
  cid: string
  mediaId: string | null
  profile: string | null
}

/** What resolving roots reads (the replication service's components have these). */
export interface RootSources {
  /** A media by id (throws MediaNotFoundError). */
  media: (id: string) => Promise<ReplicableMedia>
  /** The main server's blocks: a CID it holds may be replicated. */
  blockstore: Pick<Blockstore, 'has'>
  /** The media and profile a root is the rendition of, when it is one. */
  renditionOf?: (cid: string) => Promise<{ mediaId: string, profile: string } | undefined>
  index: Pick<ContentIndex, 'list'>
}

/** The roots a pin names, and the media's renditions to make first (when the server can make them). */
export async function resolvePinRoots (c: RootSources, request: ReplicationRequest, canPrepare: boolean): Promise<{ roots: Root[], unfinished: string[] }> {
  if (request.media == null || !canPrepare || request.cid != null) return { roots: await resolveRoots(c, request, true), unfinished: [] }
  const media = await c.media(request.media)
  const renditions = media.renditions.filter(r => request.profile == null || r.profile === request.profile)
  if (renditions.length === 0) {
    throw new NothingToReplicateError(`media ${media.id} has no rendition ${String(request.profile)} (it has ${media.renditions.map(r => r.profile).join(', ') || 'none'})`)
  }
  const finished = renditions.filter(r => r.root != null)
  // without a profile: the finished renditions, or every one when none is finished yet
  const unfinished = request.profile != null || finished.length === 0 ? renditions.filter(r => r.root == null).map(r => r.profile) : []
  return { roots: finished.map(r => ({ cid: r.root as string, mediaId: media.id, profile: r.profile })), unfinished }
}

/**
 * The roots a request names: the media's finished renditions (or one profile), or the CID. With `mustExist` (a pin),
 * a media with no finished rendition and a CID nobody holds are refused; without (listing, unpinning), a media not
 * finished yet names no root, since rows of it may come (a pin waiting for its rendition is watched this way).
 */
export async function resolveRoots (c: RootSources, request: Pick<ReplicationRequest, 'media' | 'cid' | 'profile'>, mustExist: boolean): Promise<Root[]> {
  if ((request.media == null) === (request.cid == null)) throw new InvalidRequestError('give either a media id or a CID')
  if (request.media != null) {
    const media = await c.media(request.media)
    const renditions = media.renditions.filter(r => request.profile == null || r.profile === request.profile)
    const finished = renditions.filter(r => r.root != null)
    if (finished.length === 0 && mustExist) {
      const states = renditions.map(r => `${r.profile}: ${r.state}`).join(', ')
      throw new NothingToReplicateError(`media ${media.id} has no finished rendition${request.profile == null ? '' : ` ${request.profile}`} to replicate yet (${states === '' ? 'no such profile' : states}); a rendition gets a root CID once every segment is made`)
    }
    return finished.map(r => ({ cid: r.root as string, mediaId: media.id, profile: r.profile }))
  }
  let cid: CID
  try {
    cid = CID.parse(String(request.cid))
  } catch {
    throw new InvalidCIDError(`${String(request.cid).slice(0, 100)} is not a CID`)
  }
  if (mustExist) assertPinnableCid(cid)
  const text = cid.toString()
  if (mustExist && !await c.blockstore.has(cid) && !c.index.list({ cid: text }).some(e => e.state === 'pinned')) {
    throw new NothingToReplicateError(`neither the main server nor any node holds ${text}`)
  }
  const rendition = await c.renditionOf?.(text)
  return [{ cid: text, mediaId: rendition?.mediaId ?? null, profile: rendition?.profile ?? null }]
}

/** A placement candidate from a registered node and its row for the root. */
export function candidate (node: NodeView, entry: IndexEntry | undefined): PlacementCandidate {
  const holds = entry != null && ((entry.state === 'pinned' && entry.wanted !== 'unpin') || (entry.wanted === 'pin' && (entry.state === 'queued' || entry.state === 'pinning')))
  return { peerId: node.peerId, label: node.label, state: node.state, mode: node.mode, revoked: node.revoked, freeBytes: node.capacity.freeBytes, full: node.health?.full ?? false, holds, region: node.region, tags: node.tags }
}
