import { createHash } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { basename, extname, isAbsolute, resolve } from 'node:path'
import { CidcastError, InvalidMediaError, InvalidPathError, MediaNotFoundError, ProfileNotFoundError } from '../errors.ts'
import { CID } from 'multiformats/cid'
import { checkMediaId, checkProfileName, INIT_NAME, MASTER_NAME, PLAYLIST_NAME, mediaPlaylist, masterPlaylist, segmentName } from '../hls/index.ts'
import { asDiskFull, isOutOfSpace } from '../disk-space.ts'
import { hashFile, IMPORT_OPTIONS, leafSkippingWalker } from '../ipfs/index.ts'
import { SEGMENT_SECONDS, fixedGrid, keyframeGrid, renditionKey } from './grid.ts'
import { probe, probeKeyframes } from './probe.ts'
import { planLadder } from './profiles.ts'
import { dagSize, isRawLeaf, writeDirectory } from './rendition-dag.ts'
import type { ChildLauncher } from './child-launcher.ts'
import type { SegmentGrid } from './grid.ts'
import type { ProbeResult } from './probe.ts'
import type { RenditionPlan } from './profiles.ts'
import type { DirectoryLink } from './rendition-dag.ts'
import type { RenditionJob } from './session.ts'
import type { Catalog, MediaRecord, RenditionRecord } from '../catalog/index.ts'
import type { Logger } from '../logger.ts'
import type { MediaFilter, MediaListOptions } from '../media-query.ts'
import type { MediaMetadataView } from '../metadata/index.ts'
import type { UnixFS } from '@helia/unixfs'
import type { Pins } from '@helia/interface'
import type { Blockstore } from 'interface-blockstore'

export interface LibraryComponents {
  logger: Logger
  catalog: Catalog
  unixfs: UnixFS
  blockstore: Pick<Blockstore, 'get' | 'put'>
  pins: Pick<Pins, 'add' | 'isPinned'>
  ffprobe: string
  /** How ffprobe is started: tied to the server's life (child-launcher.ts). @default started as it is */
  launcher?: ChildLauncher
  /** Identifies the encoder build and settings; part of every rendition key. */
  fingerprint: string
  /** The metadata part (core/metadata/service.ts): identifies what is added, adds its fields to every view. */
  metadata?: LibraryMetadataHooks
}

/** What the library asks of the metadata part. */
export interface LibraryMetadataHooks {
  /** Identifies a media just recorded; must never throw (a failure leaves the media playable). */
  added: (media: MediaRecord, created: boolean) => Promise<void>
  /** The metadata fields of a media's view (title, year, overview, ids, series, season, episode...). */
  describe: (media: MediaRecord) => Promise<MediaMetadataView>
  /** `describe` for a page of media at once, in their order. */
  describeMany: (media: readonly MediaRecord[]) => Promise<MediaMetadataView[]>
}

export interface LibraryInit {
  /** @default 2 */
  segmentSeconds?: number
}

/** What the API shows of one rendition. */
export interface RenditionView {
  profile: string
  width: number
  height: number
  state: RenditionRecord['state']
  root: string | null
}

/** A media as the API shows it (with the metadata fields when a metadata part is wired in). */
export interface MediaView extends Partial<MediaMetadataView> {
  id: string
  title: string
  durationSeconds: number
  sourceCid: string
  sizeBytes: number
  createdAt: string
  video: { width: number, height: number, codec: string } | null
  audio: { codec: string, channels: number } | null
  renditions: RenditionView[]
  /** The media directory (master.m3u8 and one folder per finished rendition), once a rendition is finished. */
  root: string | null
}

/** Probe facts kept with the media: what planning a ladder needs, plus keyframes for remuxing. */
interface StoredProbe extends ProbeResult {
  keyframes?: number[]
}

export interface Library {
  /** Probes and hashes a file and records it; the same bytes always give the same media. */
  add: (path: string, options?: { signal?: AbortSignal }) => Promise<{ media: MediaView, created: boolean }>
  get: (id: string) => Promise<MediaView>
  /** A page of the library: by kind, sorted (title, year, date added) over the whole library. */
  list: (options?: MediaListOptions) => Promise<MediaView[]>
  /** How many media match the filter, in all. */
  count: (filter?: MediaFilter) => Promise<number>
  master: (id: string) => Promise<string>
  playlist: (id: string, profile: string) => Promise<string>
  /** The work order for one rendition (creates its catalog row on first use). */
  job: (id: string, profile: string) => Promise<RenditionJob>
  /** Builds the rendition's directory DAG, pins it and marks the rendition complete. Idempotent. */
  finish: (job: RenditionJob) => Promise<CID>
}

/** Media records kept to answer master playlists while the catalog's database is out of reach. */
const RECENT_MEDIA = 4096

/** All a caller learns about a server path that cannot be added, whether it exists or not. */
const NOT_USABLE = 'not a usable media file'

/** True for what a file did wrong (refused by us or ffprobe, or a file-system error on it), not a fault of the server. */
function isAboutTheFile (err: unknown): boolean {
  if (err instanceof CidcastError) return true
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' && code !== 'ABORT_ERR'
}

/** The media id for a source CID: short, URL-safe and the same on every server. */
export function mediaId (sourceCid: string): string {
  return createHash('sha256').update(sourceCid).digest('hex').slice(0, 16)
}

class CatalogLibrary implements Library {
  private readonly c: LibraryComponents
  private readonly segmentSeconds: number
  private readonly jobs = new Map<string, RenditionJob>()
  /** Media read lately, by id, oldest first: what answers while the catalog's database is out of reach. */
  private readonly recent = new Map<string, MediaRecord>()
  private readonly mediaRoots = new Map<string, { key: string, root: string }>()

  constructor (components: LibraryComponents, init: LibraryInit) {
    this.c = components
    this.segmentSeconds = init.segmentSeconds ?? SEGMENT_SECONDS
  }

  async add (path: string, options: { signal?: AbortSignal } = {}): Promise<{ media: MediaView, created: boolean }> {
    if (typeof path !== 'string' || path === '' || path.includes('\0')) throw new InvalidPathError('path must be a non-empty string')
    if (!isAbsolute(path)) throw new InvalidPathError(`path must be absolute: ${JSON.stringify(path)}`)
    const file = resolve(path)
    let source: { probed: StoredProbe, sizeBytes: number, sourceCid: string }
    try {
      source = await this.read(file, options)
    } catch (err) {
      options.signal?.throwIfAborted()
      // the caller names a path on this server's disk: whether it exists, what kind of file it is and what ffprobe
      // made of its bytes are this server's business (the log's), never the caller's
      if (!isAboutTheFile(err)) throw err
      this.c.logger.info({ path: file, reason: (err as Error).message }, NOT_USABLE)
      throw new InvalidMediaError(NOT_USABLE, { cause: err })
    }
    const { probed, sizeBytes, sourceCid } = source
    const title = basename(file, extname(file)).replace(/[\r\n\t]+/g, ' ').trim() || basename(file)
    const { media, created } = await this.c.catalog.upsertMedia({
      id: mediaId(sourceCid),
      sourceCid,
      path: file,
      title,
      durationSeconds: probed.durationSeconds,
      sizeBytes,
      probe: probed
    })
    this.jobs.forEach((job, key) => { if (key.startsWith(`${media.id}/`)) this.jobs.delete(key) })
    await this.c.metadata?.added(media, created).catch(err => { this.c.logger.warn({ err, id: media.id }, 'identification failed') })
    return { media: await this.view(media), created }
  }

  /** Probes and hashes a source; refuses (before opening it) anything but a non-empty regular file. */
  private async read (file: string, options: { signal?: AbortSignal }): Promise<{ probed: StoredProbe, sizeBytes: number, sourceCid: string }> {
    // stat, not open: a FIFO would block its reader, a device could be endless
    const info = await stat(file)
    if (!info.isFile()) throw new InvalidPathError('not a regular file')
    if (info.size === 0) throw new InvalidMediaError('empty file')
    // hashing reads the file in this process while ffprobe runs in its own: side by side, not one after the other
    const hashed = hashFile(file, options)
    hashed.catch(() => {})
    const probed: StoredProbe = await probe(this.c.ffprobe, file, { ...options, launcher: this.c.launcher })
    const plans = planLadder(probed)
    if (plans.length === 0) throw new InvalidMediaError('no playable audio or video')
    // keyframes matter only for copying video on its own GOPs: an audio-only source has none to scan
    if (probed.video != null && plans.some(p => p.mode === 'remux')) probed.keyframes = await probeKeyframes(this.c.ffprobe, file, { ...options, launcher: this.c.launcher })
    const sourceCid = (await hashed).toString()
    return { probed, sizeBytes: info.size, sourceCid }
  }

  async get (id: string): Promise<MediaView> {
    return await this.view(await this.record(id))
  }

  async list (options: MediaListOptions = {}): Promise<MediaView[]> {
    const rows = await this.c.catalog.listMedia(options)
    // a page's renditions and metadata in a few queries, not a few per media
    const [renditions, described] = await Promise.all([
      this.c.catalog.listRenditionsOf(rows.map(row => row.id)),
      this.c.metadata?.describeMany(rows)
    ])
    return await Promise.all(rows.map(async (row, i) => await this.viewWith(row, renditions.get(row.id) ?? [], described?.[i])))
  }

  async count (filter: MediaFilter = {}): Promise<number> {
    return await this.c.catalog.countMedia(filter)
  }

  async master (id: string): Promise<string> {
    const media = await this.record(id)
    return masterPlaylist(this.plans(media))
  }

  async playlist (id: string, profile: string): Promise<string> {
    // a playlist is known from the probe alone: it needs no rendition row, so it answers on a full disk too
    const known = this.jobs.get(`${id}/${profile}`)
    return mediaPlaylist(known?.grid ?? (await this.rendition(id, profile)).grid)
  }

  async job (id: string, profile: string): Promise<RenditionJob> {
    const cached = this.jobs.get(`${id}/${profile}`)
    if (cached != null) return cached
    const { media, plan, grid, key } = await this.rendition(id, profile)
    await this.c.catalog.ensureRendition({ key, mediaId: id, profile, fingerprint: this.c.fingerprint.slice(0, 64), segmentCount: grid.starts.length })
    const job: RenditionJob = { key, input: media.path, plan, grid, pieceSegment: pieceMapper(plan, grid, this.keyframes(media)) }
    this.jobs.set(`${id}/${profile}`, job)
    return job
  }

  /** What a rendition of a media is (its plan, grid and key), read from the catalog without writing to it. */
  private async rendition (id: string, profile: string): Promise<{ media: MediaRecord, plan: RenditionPlan, grid: SegmentGrid, key: string }> {
    checkProfileName(profile)
    const media = await this.record(id)
    const plan = this.plans(media).find(p => p.profile.name === profile)
    if (plan == null) throw new ProfileNotFoundError(`media ${id} has no profile ${JSON.stringify(profile)}`)
    const grid = this.grid(media, plan)
    return { media, plan, grid, key: renditionKey(media.sourceCid, profile, `${this.c.fingerprint};grid=${this.segmentSeconds}`) }
  }

  async finish (job: RenditionJob): Promise<CID> {
    try {
      return await this.writeRendition(job)
    } catch (err) {
      // nothing is marked complete until its directory is stored and pinned: on a full disk it stays partial
      throw asDiskFull(err, `finishing ${job.plan.profile.name}`)
    }
  }

  private async writeRendition (job: RenditionJob): Promise<CID> {
    const { catalog, unixfs, blockstore, pins } = this.c
    const rendition = await catalog.getRendition(job.key)
    if (rendition?.state === 'complete' && rendition.root != null) return CID.parse(rendition.root)
    const segments = await catalog.listSegments(job.key)
    if (rendition?.initCid == null) throw new InvalidMediaError(`rendition ${job.key} has no init segment`)
    const links: DirectoryLink[] = []
    const initCid = CID.parse(rendition.initCid)
    links.push({ name: INIT_NAME, cid: initCid, size: await dagSize(blockstore, initCid) })
    for (const s of segments) {
      const cid = CID.parse(s.cid)
      links.push({ name: segmentName(s.index), cid, size: isRawLeaf(cid) ? s.bytes : await dagSize(blockstore, cid) })
    }
    const playlist = new TextEncoder().encode(mediaPlaylist(job.grid))
    const playlistCid = await unixfs.addBytes(playlist, IMPORT_OPTIONS)
    links.push({ name: PLAYLIST_NAME, cid: playlistCid, size: playlist.byteLength })
    const root = await writeDirectory(blockstore, links)
    if (!await pins.isPinned(root)) {
      // every block was just written here: the walker reads the directory and checks the leaves without reading them
      for await (const pinned of pins.add(root, { walker: leafSkippingWalker() })) void pinned
    }
    await catalog.completeRendition(job.key, root.toString())
    this.c.logger.info({ key: job.key, root: root.toString(), segments: segments.length }, 'rendition complete')
    return root
  }

  private async record (id: string): Promise<MediaRecord> {
    checkMediaId(id)
    let media: MediaRecord | undefined
    try {
      media = await this.c.catalog.getMedia(id)
    } catch (err) {
      // the catalog's database out of reach (issue 15): a media read lately still answers (stale if error), so the
      // titles being played keep their master playlists
      const known = (err as Error).name === 'CatalogUnavailableError' ? this.recent.get(id) : undefined
      if (known == null) throw err
      return known
    }
    if (media == null) {
      this.recent.delete(id)
      throw new MediaNotFoundError(`no media ${id}`)
    }
    this.recent.delete(id)
    this.recent.set(id, media)
    if (this.recent.size > RECENT_MEDIA) this.recent.delete(this.recent.keys().next().value as string)
    return media
  }

  private plans (media: MediaRecord): RenditionPlan[] {
    return planLadder(media.probe as unknown as ProbeResult)
  }

  private keyframes (media: MediaRecord): number[] {
    return (media.probe as unknown as StoredProbe).keyframes ?? []
  }

  private grid (media: MediaRecord, plan: RenditionPlan): SegmentGrid {
    if (plan.mode === 'remux') return keyframeGrid(media.durationSeconds, this.keyframes(media), this.segmentSeconds)
    return fixedGrid(media.durationSeconds, this.segmentSeconds)
  }

  private async view (media: MediaRecord): Promise<MediaView> {
    const [rows, described] = await Promise.all([this.c.catalog.listRenditions(media.id), this.c.metadata?.describe(media)])
    return await this.viewWith(media, rows, described)
  }

  /** A media's view from its renditions' rows and its metadata view. */
  private async viewWith (media: MediaRecord, rows: RenditionRecord[], described: MediaMetadataView | undefined): Promise<MediaView> {
    const probed = media.probe as unknown as ProbeResult
    const renditions = this.plans(media).map(plan => {
      const row = rows.find(r => r.profile === plan.profile.name && r.fingerprint === this.c.fingerprint.slice(0, 64))
      return { profile: plan.profile.name, width: plan.width, height: plan.height, state: row?.state ?? 'pending', root: row?.root ?? null }
    })
    return {
      id: media.id,
      title: media.title,
      durationSeconds: media.durationSeconds,
      sourceCid: media.sourceCid,
      sizeBytes: media.sizeBytes,
      createdAt: media.createdAt.toISOString(),
      video: probed.video == null ? null : { width: probed.video.width, height: probed.video.height, codec: probed.video.codec },
      audio: probed.audio == null ? null : { codec: probed.audio.codec, channels: probed.audio.channels },
      renditions,
      root: await this.mediaRoot(media, renditions),
      ...described
    }
  }

  /**
   * The media's own directory: `master.m3u8` over the finished renditions, each under its profile name. It is
   * derived from the rendition roots (the same roots always give the same CID), so it is kept in memory only.
   */
  private async mediaRoot (media: MediaRecord, renditions: RenditionView[]): Promise<string | null> {
    const done = renditions.filter(r => r.state === 'complete' && r.root != null)
    if (done.length === 0) return null
    const key = done.map(r => `${r.profile}=${r.root}`).join(',')
    const known = this.mediaRoots.get(media.id)
    if (known?.key === key) return known.root
    const { blockstore, unixfs } = this.c
    const links: DirectoryLink[] = []
    for (const r of done) {
      const cid = CID.parse(r.root as string)
      links.push({ name: r.profile, cid, size: await dagSize(blockstore, cid) })
    }
    const names = new Set(done.map(r => r.profile))
    const master = new TextEncoder().encode(masterPlaylist(this.plans(media).filter(p => names.has(p.profile.name))))
    let root: string
    try {
      links.push({ name: MASTER_NAME, cid: await unixfs.addBytes(master, IMPORT_OPTIONS), size: master.byteLength })
      root = (await writeDirectory(blockstore, links)).toString()
    } catch (err) {
      // showing the library must not fail for want of space to store this directory: no root until it can be stored
      if (!isOutOfSpace(err)) throw err
      this.c.logger.debug({ err, id: media.id }, 'no space to store the media directory yet')
      return null
    }
    this.mediaRoots.set(media.id, { key, root })
    return root
  }
}

/** Maps a session's output pieces to segments: one to one when we place keyframes, by source GOP when copying. */
function pieceMapper (plan: RenditionPlan, grid: SegmentGrid, keyframes: readonly number[]): RenditionJob['pieceSegment'] {
  if (plan.mode !== 'remux') return (start, piece) => start + piece
  const sorted = [...keyframes].sort((a, b) => a - b)
  const segmentOf = (t: number): number => {
    let lo = 0
    let hi = grid.starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (grid.starts[mid] <= t + 1e-3) lo = mid
      else hi = mid - 1
    }
    return lo
  }
  return (start, piece) => {
    const first = sorted.findIndex(t => t >= grid.starts[start] - 1e-3)
    const k = (first < 0 ? 0 : first) + piece
    return k < sorted.length ? segmentOf(sorted[k]) : grid.starts.length
  }
}

/** Creates the library: media records, their ladders, playlists and finished rendition DAGs. */
export function createLibrary (components: LibraryComponents, init: LibraryInit = {}): Library {
  return new CatalogLibrary(components, init)
}
