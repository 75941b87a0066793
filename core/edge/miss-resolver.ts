import { CID } from 'multiformats/cid'
import { NotCachedError } from '../errors.ts'
import { INIT_NAME, MASTER_NAME, PLAYLIST_NAME, segmentCount, segmentIndex, segmentName } from '../hls/index.ts'
import { verifyFileBytes } from './block-verify.ts'
import { gatherBlocks, originCarPath } from './content-need.ts'
import { OriginUnavailableError, UnverifiedContentError } from './errors.ts'
import { isMissing } from './node-content.ts'
import { createReadAhead } from './read-ahead.ts'
import type { ContentNeed } from './content-need.ts'
import type { EdgeCache } from './edge-cache.ts'
import type { KeptAs } from './node-content.ts'
import type { HeldMedia } from './held-media.ts'
import type { MediaCache } from './media-cache.ts'
import type { NodeContent } from './node-content.ts'
import type { OriginClient } from './origin-client.ts'
import type { ReadAhead, RenditionRef } from './read-ahead.ts'
import type { ContentEntry, ContentReader } from '../ipfs/index.ts'
import type { Logger } from '../logger.ts'

/*
 * The CDN node's miss policy, in one place: where the bytes of an answer come from. Local blocks first (a file
 * counts only when every block of it is here); on a miss, per `fallback`, connected peers over bitswap within a
 * deadline, the origin (one fetch per path in flight; bytes served only once they hash to the CID the origin names,
 * then kept), or a redirect to the origin. `onlyIfCached` stops at the local blocks. The node's routes only turn
 * the answer into HTTP.
 *
 * For `/media`, a file's CID comes from what the node learned before (the origin's Etags, in the media cache) or
 * from the rendition's root directory in local blocks; roots are refreshed with the master playlist, and at most
 * every `rootsTtlMs` while a rendition has none. Playlists of renditions that are not complete are kept on disk:
 * fresh ones are served as they are, stale ones refreshed, and served anyway when the origin is unreachable.
 *
 * A media whose renditions are pinned here (`held`, core/edge/held-media.ts) needs nobody: a held rendition's files
 * are found in its root, and with the origin unreachable the master playlist is the one pinned with them, listing
 * only the renditions held here (a player offered one it cannot get would stall on it).
 *
 * What a fallback answer brings is kept and indexed in the node's cache (`kept`, core/edge/edge-cache.ts), whose
 * hits are counted here; a segment got by fallback also starts read-ahead of the next ones (core/edge/read-ahead.ts).
 */

/** Where the bytes of an answer came from (the node says so in a response header). */
export type ContentSource = 'local' | 'peer' | 'origin'

/** What a node does on a miss: proxy the origin (verified), redirect to it, or ask connected peers first. */
export type FallbackMode = 'origin' | 'redirect' | 'peer'

export interface MissResolverComponents {
  content: Pick<NodeContent, 'reader' | 'network' | 'localFile' | 'fromPeers' | 'keep'>
  cache: Pick<MediaCache, 'file' | 'setFile' | 'roots' | 'setRoots' | 'playlist' | 'setPlaylist'>
  origin: Pick<OriginClient, 'url' | 'get' | 'media' | 'car'>
  logger: Logger
  /** The media whose renditions are pinned here, by id. */
  held?: Pick<HeldMedia, 'rendition' | 'master'>
  /** The index of what is kept from fallback answers: told of every local hit. */
  kept?: Pick<EdgeCache, 'hit'>
  /** Whether the node can keep more now (read-ahead runs only then). @default always */
  room?: () => Promise<boolean>
}

export interface MissResolverInit {
  /** @default 'origin' */
  fallback?: FallbackMode
  /** How long to wait for peers before falling back to the origin (`fallback: 'peer'`). @default 5000 */
  peerTimeoutMs?: number
  /** A cached playlist younger than this is served without asking the origin. @default 60000 */
  playlistTtlMs?: number
  /** Rendition roots are asked for again at most this often while a rendition is incomplete. @default 10000 */
  rootsTtlMs?: number
  /** Segments fetched ahead of a viewer streamed by fallback; 0 turns read-ahead off (so does `redirect`). @default 3 */
  readAheadSegments?: number
}

export interface ResolveOptions {
  /** Local blocks (and cached playlists) only: a miss is NotCachedError. */
  onlyIfCached?: boolean
}

/** Bytes to serve: a file (or, for `/ipfs`, the reader that holds every block the answer needs) and its source. */
export interface Served {
  source: ContentSource
  reader: ContentReader
}

/** The client is sent to the origin instead. */
export interface Redirected {
  source: 'redirect'
  location: string
}

/** A file of a rendition: `file` is its entry when local or from peers, its CID when it came from the origin. */
export type MediaAnswer = (Served & { file: ContentEntry | CID }) | Redirected

/** A playlist: its text (disk cache or origin), or a complete rendition's playlist file from local blocks. */
export type PlaylistAnswer = { source: 'local' | 'origin', text: string } | (Served & { source: 'local', file: ContentEntry })

export interface MissResolver {
  /** The node's local reader. */
  readonly reader: ContentReader
  /** A file of a rendition (`init.mp4`, `{n}.m4s`); the parts are checked by the caller (core/hls/names.ts). */
  mediaFile (ref: { id: string, profile: string, file: string }, options?: ResolveOptions): Promise<MediaAnswer>
  /** The master playlist (no profile) or a rendition's; never redirected (a player resolves its relative URLs against it). */
  playlist (ref: { id: string, profile?: string }, options?: ResolveOptions): Promise<PlaylistAnswer>
  /** An `/ipfs` answer: a reader that holds every block it needs, or a redirect. */
  content (need: ContentNeed, options?: ResolveOptions): Promise<Served | Redirected>
  /** Resolves when no read-ahead is running. */
  settled (): Promise<void>
  /**
   * Pre-caches the first `segments` segments of a rendition (issue 13: the next episode), with its playlists and init
   * segment, as read-ahead does: after viewers' misses, kept as evictable `prefetch` files. Stops at the first failure
   * or when the node cannot keep more; resolves with the segments now here.
   */
  prefetch (ref: { id: string, profile: string }, segments: number): Promise<number>
}

/** Parsed CIDs remembered by the resolver (a few thousand segments' files). */
const PARSED_CIDS_KEPT = 8192

/** The CID in an Etag the main server sends (`"<cid>"`), or undefined. */
export function etagCid (etag: string | null | undefined): CID | undefined {
  const text = /^(?:W\/)?"([a-z0-9]+)"$/i.exec(etag ?? '')?.[1]
  if (text == null) return undefined
  try {
    return CID.parse(text)
  } catch {
    return undefined
  }
}

/** Creates the node's miss resolver. */
export function createMissResolver (components: MissResolverComponents, init: MissResolverInit = {}): MissResolver {
  return new FallbackResolver(components, init)
}

class FallbackResolver implements MissResolver {
  readonly reader: ContentReader
  private readonly log: Logger
  private readonly fallback: FallbackMode
  private readonly peerTimeoutMs: number
  private readonly playlistTtlMs: number
  private readonly rootsTtlMs: number
  /** Origin fetches in flight by path, so a burst of viewers of one new segment costs one fetch. */
  private readonly fetching = new Map<string, Promise<{ cid: CID, reader: ContentReader }>>()
  /** CIDs of the media cache's strings, parsed once: a hit was parsing its file's CID again on every answer (2% of a busy node). */
  private readonly parsed = new Map<string, CID>()
  private readonly readAhead: ReadAhead | undefined
  /** Viewers' misses waiting on the origin or peers; read-ahead waits for none. */
  private viewerMisses = 0
  private idleWaiters: Array<() => void> = []

  constructor (private readonly c: MissResolverComponents, init: MissResolverInit) {
    this.reader = c.content.reader
    this.log = c.logger.child({ name: 'cidcast:miss-resolver' })
    this.fallback = init.fallback ?? 'origin'
    this.peerTimeoutMs = init.peerTimeoutMs ?? 5000
    this.playlistTtlMs = init.playlistTtlMs ?? 60_000
    this.rootsTtlMs = init.rootsTtlMs ?? 10_000
    const segments = init.readAheadSegments ?? 3
    if (segments > 0 && this.fallback !== 'redirect') {
      this.readAhead = createReadAhead({
        fetch: async (rendition, index) => { await this.resolveFile({ ...rendition, file: segmentName(index) }, {}, true) },
        segments: async rendition => await this.segmentsOf(rendition),
        room: c.room ?? (async () => true),
        idle: async () => { if (this.viewerMisses > 0) await new Promise<void>(resolve => { this.idleWaiters.push(resolve) }) },
        logger: c.logger
      }, { segments })
    }
  }

  async mediaFile (ref: { id: string, profile: string, file: string }, options: ResolveOptions = {}): Promise<MediaAnswer> {
    const answer = await this.resolveFile(ref, options, false)
    const index = segmentIndex(ref.file)
    if (index != null && this.readAhead != null) {
      // a fallback answer, or the first hit of a segment read ahead: keep ahead of the player
      const readAheadHit = answer.source === 'local' && answer.readAheadHit
      if (answer.source === 'origin' || answer.source === 'peer' || readAheadHit) this.readAhead.after(ref, index)
    }
    if (answer.source === 'redirect') return answer
    return { source: answer.source, reader: answer.reader, file: answer.file }
  }

  async settled (): Promise<void> {
    await this.readAhead?.settled()
  }

  async prefetch (ref: { id: string, profile: string }, segments: number): Promise<number> {
    const room = this.c.room ?? (async () => true)
    await this.playlist({ id: ref.id })
    await this.playlist(ref)
    const count = await this.segmentsOf(ref)
    const last = Math.min(segments, count ?? segments)
    let done = 0
    for (const file of [INIT_NAME, ...Array.from({ length: last }, (_, i) => segmentName(i))]) {
      // a viewer's own misses go first
      if (this.viewerMisses > 0) await new Promise<void>(resolve => { this.idleWaiters.push(resolve) })
      if (!await room()) break
      await this.resolveFile({ ...ref, file }, {}, true, true)
      if (file !== INIT_NAME) done++
    }
    return done
  }

  /** A file of a rendition, local first, else by fallback (kept and indexed; `readAhead`: fetched before anyone asked). */
  private async resolveFile (ref: { id: string, profile: string, file: string }, options: ResolveOptions, readAhead: boolean, prefetch = false): Promise<MediaAnswer & { readAheadHit?: boolean }> {
    const { id, profile, file } = ref
    const path = `/media/${id}/${profile}/${file}`
    const cid = await this.knownCid(id, profile, file, options)
    if (cid != null) {
      const entry = await this.c.content.localFile(cid)
      if (entry != null) {
        // read-ahead finding it here is not a viewer's hit
        const readAheadHit = readAhead ? false : this.c.kept?.hit(cid.toString()) === true
        return { source: 'local', reader: this.reader, file: entry, readAheadHit }
      }
    }
    if (options.onlyIfCached === true) throw new NotCachedError(`${path} is not held by this node`)
    if (this.fallback === 'redirect') return { source: 'redirect', location: this.c.origin.url + path }
    if (!readAhead) this.viewerMisses++
    try {
      const as = { key: '', media: { id, profile, file }, readAhead: readAhead && !prefetch, prefetch }
      if (this.fallback === 'peer' && cid != null) {
        try {
          const entry = await this.c.content.fromPeers(cid, this.peerTimeoutMs, { as: { ...as, key: cid.toString() } })
          return { source: 'peer', reader: this.reader, file: entry }
        } catch (err) {
          this.log.debug({ err, cid: cid.toString() }, 'no peer had the blocks in time: asking the origin')
        }
      }
      let pending = this.fetching.get(path)
      if (pending == null) {
        pending = this.fetchVerified(path, id, profile, file, cid, as).finally(() => this.fetching.delete(path))
        this.fetching.set(path, pending)
      }
      const fetched = await pending
      return { source: 'origin', reader: fetched.reader, file: fetched.cid }
    } finally {
      if (!readAhead && --this.viewerMisses === 0) {
        const waiters = this.idleWaiters
        this.idleWaiters = []
        for (const wake of waiters) wake()
      }
    }
  }

  /** The number of segments of a rendition, from its media playlist as last fetched (undefined when not known). */
  private async segmentsOf (ref: RenditionRef): Promise<number | undefined> {
    const cached = await this.c.cache.playlist(ref.id, ref.profile)
    if (cached != null) return segmentCount(cached.text)
    const cid = await this.knownCid(ref.id, ref.profile, PLAYLIST_NAME, { onlyIfCached: true })
    const entry = cid == null ? undefined : await this.c.content.localFile(cid)
    if (entry == null) return undefined
    const chunks: Buffer[] = []
    for await (const chunk of this.reader.content(entry, 0, entry.size)) chunks.push(chunk)
    return segmentCount(Buffer.concat(chunks).toString('utf8'))
  }

  async playlist (ref: { id: string, profile?: string }, options: ResolveOptions = {}): Promise<PlaylistAnswer> {
    const { id, profile } = ref
    if (profile == null) return await this.playlistText(id, 'master', `/media/${id}/${MASTER_NAME}`, options, this.c.held?.master(id))
    // a complete rendition holds its playlist: served like any file, by CID
    const cid = await this.knownCid(id, profile, PLAYLIST_NAME, options)
    const entry = cid == null ? undefined : await this.c.content.localFile(cid)
    if (entry != null) return { source: 'local', reader: this.reader, file: entry }
    return await this.playlistText(id, profile, `/media/${id}/${profile}/${PLAYLIST_NAME}`, options)
  }

  async content (need: ContentNeed, options: ResolveOptions = {}): Promise<Served | Redirected> {
    const { content } = this.c
    if (await gatherBlocks(content, need, this.reader)) {
      this.c.kept?.hit(need.path)
      return { source: 'local', reader: this.reader }
    }
    if (options.onlyIfCached === true) throw new NotCachedError(`${need.path} is not held by this node`)
    if (this.fallback === 'redirect') return { source: 'redirect', location: this.c.origin.url + need.url }
    if (this.fallback === 'peer') {
      const ready = await gatherBlocks(content, need, content.network, AbortSignal.timeout(this.peerTimeoutMs))
      if (!ready) this.log.debug({ path: need.path }, 'no peer had the blocks in time: asking the origin')
      if (ready && await gatherBlocks(content, need, this.reader)) return { source: 'peer', reader: this.reader }
    }
    // indexed by the request's path: what one `/ipfs` answer needed goes (or stays) together
    const as = { key: need.path }
    let reader = await content.keep(this.c.origin.car(originCarPath(need, 'entity')), as)
    if (!await gatherBlocks(content, need, reader)) {
      // a directory listing reads each child's first block: bring the whole directory
      reader = await content.keep(this.c.origin.car(originCarPath(need, 'all')), as)
    }
    return { source: 'origin', reader }
  }

  private async fetchVerified (path: string, id: string, profile: string, file: string, known: CID | undefined, as: KeptAs): Promise<{ cid: CID, reader: ContentReader }> {
    const answer = await this.c.origin.get(path, 'segment')
    const etag = etagCid(answer.headers.etag)
    if (etag == null) throw new UnverifiedContentError(`the main server sent ${path} without a CID Etag; not serving unverified bytes`)
    if (known != null && etag.toString() !== known.toString()) this.log.warn({ path, was: known.toString(), now: etag.toString() }, 'the origin has other bytes for a path than before')
    const blocks = await verifyFileBytes(etag, answer.body)
    const served = await this.c.content.keep(blocks, { ...as, key: etag.toString() })
    await this.c.cache.setFile(id, profile, file, etag.toString())
    return { cid: etag, reader: served }
  }

  /** Asks the origin for the rendition roots of `id` and remembers them; false when it failed, throws when it gave no answer. */
  private async refreshRoots (id: string): Promise<boolean> {
    try {
      const media = await this.c.origin.media(id)
      await this.c.cache.setRoots(id, Object.fromEntries(media.renditions.map(r => [r.profile, r.root])))
      return true
    } catch (err) {
      if ((err as Error).name === 'MediaNotFoundError') throw err
      // a main server that does not answer at all will not answer the file either: the miss fails now, within the
      // API's deadline, rather than after the content deadline of another request (30 s)
      if (err instanceof OriginUnavailableError && err.silent) throw err
      this.log.debug({ err, id }, 'cannot refresh rendition roots')
      return false
    }
  }

  /** The CID of a file of a rendition, from what was learned or from the rendition's root directory (local). */
  private parse (text: string): CID {
    let cid = this.parsed.get(text)
    if (cid != null) return cid
    cid = CID.parse(text)
    if (this.parsed.size >= PARSED_CIDS_KEPT) this.parsed.delete(this.parsed.keys().next().value as string)
    this.parsed.set(text, cid)
    return cid
  }

  private async knownCid (id: string, profile: string, file: string, options: ResolveOptions): Promise<CID | undefined> {
    const { cache, content } = this.c
    const onlyIfCached = options.onlyIfCached === true
    const held = this.c.held?.rendition(id, profile)
    if (held != null) {
      const cid = await this.reader.child(held, file).catch(err => { if (isMissing(err)) return undefined; throw err })
      if (cid != null) return cid
    }
    const learned = await cache.file(id, profile, file)
    if (learned != null) return this.parse(learned)
    let roots = await cache.roots(id)
    const stale = roots == null || (roots.roots[profile] == null && Date.now() - roots.fetchedAt > this.rootsTtlMs)
    if (stale && !onlyIfCached && await this.refreshRoots(id)) roots = await cache.roots(id)
    const root = roots?.roots[profile]
    if (root == null) return undefined
    let cid: CID | undefined
    try {
      cid = await this.reader.child(this.parse(root), file)
    } catch (err) {
      if (!isMissing(err)) throw err
      if (this.fallback !== 'peer' || onlyIfCached) return undefined
      // the root directory is not here: a peer that holds the rendition has it
      cid = await content.network.child(this.parse(root), file, { signal: AbortSignal.timeout(this.peerTimeoutMs) }).catch(() => undefined)
    }
    if (cid != null) await cache.setFile(id, profile, file, cid.toString())
    return cid
  }

  /**
   * A playlist from the disk cache when fresh, else from the origin; when the origin is unreachable, `held` (the
   * master playlist of what is pinned here) or else the cached one.
   */
  private async playlistText (id: string, key: string, path: string, options: ResolveOptions, held?: string): Promise<{ source: 'local' | 'origin', text: string }> {
    const onlyIfCached = options.onlyIfCached === true
    const cached = await this.c.cache.playlist(id, key)
    if (cached != null && (Date.now() - cached.fetchedAt < this.playlistTtlMs || onlyIfCached)) return { source: 'local', text: cached.text }
    if (onlyIfCached) {
      if (held != null) return { source: 'local', text: held }
      throw new NotCachedError(`the playlist ${path} is not held by this node`)
    }
    // never redirected, even with `fallback: 'redirect'`: a player resolves the playlist's relative URLs
    // against where it got it, so a redirected playlist would move the whole session to the main server
    try {
      const [answer] = await Promise.all([
        this.c.origin.get(path, 'playlist'),
        // the master playlist is the first thing a player asks for: learn the roots with it
        key === 'master' ? this.refreshRoots(id) : undefined
      ])
      const text = answer.body.toString('utf8')
      await this.c.cache.setPlaylist(id, key, text)
      return { source: 'origin', text }
    } catch (err) {
      const fallback = held ?? cached?.text
      if (fallback == null || (err as Error).name !== 'OriginUnavailableError') throw err
      this.log.debug({ path, held: held != null }, 'origin unreachable: serving the playlist held here')
      return { source: 'local', text: fallback }
    }
  }
}
