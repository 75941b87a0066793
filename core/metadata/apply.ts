import { posix } from 'node:path'
import { itemArtwork, seriesArtwork } from './image-store.ts'
import { normalTitle } from '../catalog/index.ts'
import { shortId } from './short-id.ts'
import { seasonTitle } from './views.ts'
import type { Gathered } from './gather.ts'
import type { ImageStore } from './image-store.ts'
import type { FieldChanges, FieldName, MetadataFields, MetadataRepository, StoredMetadata } from '../catalog/index.ts'
import type { Logger } from '../logger.ts'

/*
 * Turning what `gather` found into stored metadata. Locked fields (user edits) never change. A weaker source
 * than the one that described the item before (the path, after an NFO or a provider) only fills empty fields,
 * so a provider outage never replaces good metadata with a file name. A match a user picked replaces every
 * unlocked field, clearing what the new match does not say. Series, seasons and collections are found (by
 * ids, then by folder and title) or created, and artwork is stored once in IPFS. A frame of the video standing
 * in for a poster or still (service.ts) is replaced by real artwork from any source.
 */

const RANK: Record<string, number> = { path: 1, tmdb: 2, tvdb: 2, omdb: 2, nfo: 3, user: 4 }

export interface ApplyComponents {
  log: Logger
  store: MetadataRepository
  images?: ImageStore
}

export interface ApplyOptions {
  /** 'auto': identification; 'match': a user picked this match. */
  mode: 'auto' | 'match'
  actor: string
  signal?: AbortSignal
  /** The CID of the frame taken from this media's video, if one was: artwork that is only that frame gives way to any real artwork. */
  frame?: string
}

async function imageOf (c: ApplyComponents, local: string | undefined, url: string | undefined, signal?: AbortSignal): Promise<string | undefined> {
  if (c.images == null) return undefined
  if (local != null) {
    const cid = await c.images.local(local)
    if (cid != null) return cid
  }
  return url == null ? undefined : await c.images.remote(url, { signal })
}

/** Finds or creates the episode's series (and its seasons); returns its id. */
async function resolveSeries (c: ApplyComponents, g: Gathered, weaker: boolean, signal?: AbortSignal): Promise<{ id: string, title: string } | undefined> {
  const info = g.series
  const title = info?.title ?? g.path.series?.title
  if (title == null) return undefined
  const found = await c.store.findSeries(info?.ids ?? {}, g.folder, title)
  const id = found?.id ?? shortId(`series:${g.folder}:${normalTitle(title)}`)
  // a folder of loose episodes of several shows (`/downloads`) holds no one series' artwork
  const art = g.path.series?.ownFolder === true ? await seriesArtwork(g.folder) : { seasons: new Map<number, string>() }
  const keepOld = found != null && weaker
  const poster = await imageOf(c, art.poster, info?.posterUrl, signal)
  const backdrop = await imageOf(c, art.backdrop, info?.backdropUrl, signal)
  const series = await c.store.putSeries(id, {
    title: keepOld ? found.title : title,
    originalTitle: keepOld ? found.originalTitle : info?.originalTitle ?? found?.originalTitle ?? null,
    year: keepOld && found.year != null ? found.year : info?.year ?? found?.year ?? null,
    overview: keepOld && found.overview != null ? found.overview : info?.overview ?? found?.overview ?? null,
    ids: info?.ids ?? {},
    poster: poster ?? found?.poster ?? null,
    backdrop: backdrop ?? found?.backdrop ?? null,
    folder: found?.folder ?? g.folder
  })
  const seasons = new Map((await c.store.seasons(id)).map(s => [s.number, s]))
  const wanted = new Map((info?.seasons ?? []).map(s => [s.number, s]))
  if (g.item.season != null && !wanted.has(g.item.season)) wanted.set(g.item.season, { number: g.item.season })
  for (const [number, s] of wanted) {
    const old = seasons.get(number)
    const seasonPoster = await imageOf(c, art.seasons.get(number), s.posterUrl, signal)
    const next = { number, title: old?.title ?? s.title ?? seasonTitle(number, undefined), overview: old?.overview ?? s.overview ?? null, poster: seasonPoster ?? old?.poster ?? null }
    if (old == null || old.title !== next.title || old.overview !== next.overview || old.poster !== next.poster) await c.store.putSeason(id, next)
  }
  return { id: series.id, title: series.title }
}

async function resolveCollection (c: ApplyComponents, g: Gathered, signal?: AbortSignal): Promise<string | undefined> {
  const info = g.collection
  if (info?.title == null) return undefined
  const found = await c.store.findCollection(info.ids.tmdb, info.title)
  const id = found?.id ?? shortId(`collection:${info.ids.tmdb ?? normalTitle(info.title)}`)
  const poster = await imageOf(c, undefined, info.posterUrl, signal)
  const backdrop = await imageOf(c, undefined, info.backdropUrl, signal)
  await c.store.putCollection(id, {
    title: found?.title ?? info.title,
    overview: info.overview ?? found?.overview ?? null,
    tmdb: info.ids.tmdb ?? found?.tmdb ?? null,
    poster: poster ?? found?.poster ?? null,
    backdrop: backdrop ?? found?.backdrop ?? null
  })
  return id
}

/** Stores what was gathered for `mediaId`; returns the changes (also written to the audit trail). */
export async function applyGathered (c: ApplyComponents, mediaId: string, mediaPath: string, g: Gathered, options: ApplyOptions): Promise<FieldChanges> {
  const existing = await c.store.get(mediaId)
  const locked = new Set(existing?.locked ?? [])
  const weaker = existing != null && options.mode === 'auto' && (RANK[g.source] ?? 0) < (RANK[existing.source] ?? 0)
  const item = g.item
  const kind = locked.has('kind') && existing != null ? existing.kind : g.kind

  const series = kind === 'episode' && !locked.has('series') ? await resolveSeries(c, g, weaker, options.signal) : undefined
  const collection = kind === 'movie' && !locked.has('collection') ? await resolveCollection(c, g, options.signal) : undefined
  const art = await itemArtwork(mediaPath, kind)
  const poster = kind === 'episode' ? undefined : await imageOf(c, art.poster, item.posterUrl, options.signal)
  const backdrop = kind === 'episode' ? undefined : await imageOf(c, art.backdrop, item.backdropUrl, options.signal)
  const still = kind === 'episode' ? await imageOf(c, art.still, item.stillUrl, options.signal) : undefined

  const seriesTitle = series?.title ?? g.path.series?.title
  const fallbackTitle = kind === 'episode' && seriesTitle != null && item.season != null && item.episode != null
    ? `${seriesTitle} S${String(item.season).padStart(2, '0')}E${String(item.episode).padStart(2, '0')}`
    : posix.basename(mediaPath, posix.extname(mediaPath))
  const candidate: Omit<MetadataFields, 'locked'> = {
    kind,
    title: item.title ?? (existing != null && options.mode === 'auto' ? existing.title : fallbackTitle),
    originalTitle: item.originalTitle ?? null,
    sortTitle: item.sortTitle ?? null,
    year: item.year ?? null,
    releaseDate: item.releaseDate ?? null,
    overview: item.overview ?? null,
    tagline: item.tagline ?? null,
    imdb: item.ids.imdb ?? null,
    tmdb: item.ids.tmdb ?? null,
    tvdb: item.ids.tvdb ?? null,
    series: series?.id ?? null,
    season: kind === 'episode' ? item.season ?? null : null,
    episode: kind === 'episode' ? item.episode ?? null : null,
    episodeEnd: kind === 'episode' ? item.episodeEnd ?? null : null,
    collection: collection ?? null,
    extraType: kind === 'extra' ? item.extraType ?? null : null,
    poster: poster ?? null,
    backdrop: backdrop ?? null,
    still: still ?? null
  }
  // fields that only mean something for another kind are cleared when the kind says so
  const belongs: Partial<Record<FieldName, boolean>> = {
    series: kind === 'episode', season: kind === 'episode', episode: kind === 'episode', episodeEnd: kind === 'episode', still: kind === 'episode', collection: kind === 'movie', extraType: kind === 'extra'
  }
  const fields = { locked: [...locked] } as unknown as MetadataFields
  for (const [name, value] of Object.entries(candidate) as Array<[Exclude<FieldName, 'locked'>, unknown]>) {
    const old = existing?.[name] ?? null
    const onlyFrame = (name === 'poster' || name === 'still') && old != null && old === options.frame
    let next: unknown
    if (locked.has(name)) next = old
    else if (belongs[name] === false) next = null
    // a frame stands in until a poster or still comes from any source, however weak, and is not cleared by one without
    else if (onlyFrame) next = value ?? old
    else if (options.mode === 'match') next = value ?? (name === 'title' ? old : null)
    else if (value == null) next = old
    else if (weaker && old != null) next = old
    else next = value
    ;(fields as unknown as Record<string, unknown>)[name] = next
  }
  if (typeof fields.title !== 'string' || fields.title === '') fields.title = fallbackTitle
  const source = weaker && existing != null ? existing.source : g.source
  const identified = g.provider != null ? new Date() : undefined
  const changes = await c.store.save(mediaId, fields, { folder: g.folder, source, identifiedAt: identified ?? existing?.identifiedAt ?? null }, { actor: options.actor, action: 'identify' })
  if (Object.keys(changes).length > 0) c.log.info({ mediaId, source, fields: Object.keys(changes) }, 'metadata identified')
  return changes
}

/** The stored fields as a plain MetadataFields (for edits and reverts). */
export function fieldsOf (stored: StoredMetadata): MetadataFields {
  const { mediaId: _m, folder: _f, source: _s, identifiedAt: _i, updatedAt: _u, ...fields } = stored
  return { ...fields, locked: [...stored.locked] }
}
