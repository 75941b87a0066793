import { createHash } from 'node:crypto'
import { Media } from './entities.ts'
import { Collection, MediaMetadata, MediaSearch, MetadataAudit, Season, Series, StoredImage } from './metadata-entities.ts'
import { listColumns, mediaIdInScope, mediaInFolders } from './media-list.ts'
import type { SqlCondition } from './media-list.ts'
import { searchPattern, searchText } from './search-text.ts'
import { normalTitle, sortKey } from './sort-key.ts'
import type { RunExclusive, RunRead } from './exclusive.ts'
import type { LibraryScope } from '../media-query.ts'
import type { ExternalIds, MediaKind } from '../metadata/index.ts'
import { In } from 'typeorm'
import type { EntityManager } from 'typeorm'

/*
 * The metadata room's repository (core/metadata), in the catalog's database: every call queues behind the
 * catalog's writes, and a save runs in one transaction. A media's metadata is a flat record of fields; every save diffs it against what
 * was stored, writes one audit entry with each changed field's before and after, and keeps media.title and
 * media.sort_key in step.
 */

/** The fields of a media's metadata, by the names the API, the locks and the audit trail use. */
export interface MetadataFields {
  kind: MediaKind
  title: string
  originalTitle: string | null
  sortTitle: string | null
  year: number | null
  releaseDate: string | null
  overview: string | null
  tagline: string | null
  imdb: string | null
  tmdb: number | null
  tvdb: number | null
  /** Series id (episodes). */
  series: string | null
  season: number | null
  episode: number | null
  episodeEnd: number | null
  /** Collection id (movies). */
  collection: string | null
  extraType: string | null
  /** Image CIDs. */
  poster: string | null
  backdrop: string | null
  still: string | null
  /** Fields a user edited, which identification leaves alone. */
  locked: string[]
}

export type FieldName = keyof MetadataFields

export interface StoredMetadata extends MetadataFields {
  mediaId: string
  folder: string
  source: string
  identifiedAt: Date | null
  updatedAt: Date
}

export type FieldChanges = Partial<Record<FieldName, { from: unknown, to: unknown }>>

export interface AuditEntry {
  id: number
  mediaId: string
  at: Date
  actor: string
  action: string
  changes: FieldChanges
  reverts: number | null
}

export interface SeriesRecord {
  id: string
  title: string
  originalTitle: string | null
  year: number | null
  overview: string | null
  ids: ExternalIds
  poster: string | null
  backdrop: string | null
  folder: string | null
}

export interface SeasonRecord { number: number, title: string | null, overview: string | null, poster: string | null }

export interface CollectionRecord { id: string, title: string, overview: string | null, tmdb: number | null, poster: string | null, backdrop: string | null }

const FIELD_COLUMNS: Record<Exclude<FieldName, 'locked'>, keyof MediaMetadata> = {
  kind: 'kind',
  title: 'title',
  originalTitle: 'originalTitle',
  sortTitle: 'sortTitle',
  year: 'year',
  releaseDate: 'releaseDate',
  overview: 'overview',
  tagline: 'tagline',
  imdb: 'imdbId',
  tmdb: 'tmdbId',
  tvdb: 'tvdbId',
  series: 'seriesId',
  season: 'seasonNumber',
  episode: 'episodeNumber',
  episodeEnd: 'episodeEnd',
  collection: 'collectionId',
  extraType: 'extraType',
  poster: 'posterCid',
  backdrop: 'backdropCid',
  still: 'stillCid'
}

/** Every field name, in a stable order. */
export const FIELD_NAMES = [...Object.keys(FIELD_COLUMNS), 'locked'] as FieldName[]

function toStored (row: MediaMetadata): StoredMetadata {
  const out: Record<string, unknown> = { mediaId: row.mediaId, folder: row.folder, source: row.source, identifiedAt: row.identifiedAt, updatedAt: row.updatedAt }
  for (const [field, column] of Object.entries(FIELD_COLUMNS)) out[field] = row[column] ?? null
  out.locked = parseList(row.locked)
  return out as unknown as StoredMetadata
}

function parseList (text: string): string[] {
  try {
    const value: unknown = JSON.parse(text)
    return Array.isArray(value) ? value.filter(v => typeof v === 'string') : []
  } catch {
    return []
  }
}

function same (a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null)
}

function toSeries (row: Series): SeriesRecord {
  const ids: ExternalIds = {}
  if (row.imdbId != null) ids.imdb = row.imdbId
  if (row.tmdbId != null) ids.tmdb = row.tmdbId
  if (row.tvdbId != null) ids.tvdb = row.tvdbId
  return { id: row.id, title: row.title, originalTitle: row.originalTitle, year: row.year, overview: row.overview, ids, poster: row.posterCid, backdrop: row.backdropCid, folder: row.folder }
}

function toCollection (row: Collection): CollectionRecord {
  return { id: row.id, title: row.title, overview: row.overview, tmdb: row.tmdbId, poster: row.posterCid, backdrop: row.backdropCid }
}

/** The metadata of media, series and collections, their audit trail and the images stored for them. */
export interface MetadataRepository {
  get: (mediaId: string) => Promise<StoredMetadata | undefined>
  /** The metadata of each of these media that has any (one query for a page of the library). */
  getMany: (mediaIds: readonly string[]) => Promise<Map<string, StoredMetadata>>
  /** Stores `fields`, records what changed as one audit entry; returns the changes (empty: nothing changed). */
  save: (mediaId: string, fields: MetadataFields, meta: { folder: string, source: string, identifiedAt?: Date | null }, audit: { actor: string, action: string, reverts?: number }) => Promise<FieldChanges>
  audit: (mediaId: string) => Promise<AuditEntry[]>
  auditEntry: (mediaId: string, id: number) => Promise<AuditEntry | undefined>
  findSeries: (ids: ExternalIds, folder: string | undefined, title: string) => Promise<SeriesRecord | undefined>
  getSeries: (id: string) => Promise<SeriesRecord | undefined>
  /** The series of these ids that exist. */
  seriesByIds: (ids: readonly string[]) => Promise<Map<string, SeriesRecord>>
  listSeries: () => Promise<SeriesRecord[]>
  /** Creates or updates a series (only the fields given are written). */
  putSeries: (id: string, fields: Partial<Omit<SeriesRecord, 'id'>>) => Promise<SeriesRecord>
  seasons: (seriesId: string) => Promise<SeasonRecord[]>
  /** The seasons of each of these series, by number. */
  seasonsOf: (seriesIds: readonly string[]) => Promise<Map<string, SeasonRecord[]>>
  putSeason: (seriesId: string, season: SeasonRecord) => Promise<void>
  findCollection: (tmdb: number | undefined, title: string) => Promise<CollectionRecord | undefined>
  getCollection: (id: string) => Promise<CollectionRecord | undefined>
  /** The collections of these ids that exist. */
  collectionsByIds: (ids: readonly string[]) => Promise<Map<string, CollectionRecord>>
  listCollections: () => Promise<CollectionRecord[]>
  putCollection: (id: string, fields: Partial<Omit<CollectionRecord, 'id'>>) => Promise<CollectionRecord>
  /** Episodes of a series by season and episode number (those in `scope`). */
  episodes: (seriesId: string, scope?: LibraryScope) => Promise<StoredMetadata[]>
  /** The season of each episode of each of these series (those in `scope`): what a series' view counts. */
  episodeSeasons: (seriesIds: readonly string[], scope?: LibraryScope) => Promise<Map<string, Array<{ season: number | null }>>>
  /** Movies of a collection by release date, then year, then title (those in `scope`). */
  collectionMovies: (collectionId: string, scope?: LibraryScope) => Promise<StoredMetadata[]>
  /** How many movies each of these collections has (those in `scope`). */
  collectionSizes: (collectionIds: readonly string[], scope?: LibraryScope) => Promise<Map<string, number>>
  /** Extras that belong to `folder` (those in `scope`). */
  extras: (folder: string, scope?: LibraryScope) => Promise<StoredMetadata[]>
  /**
   * Media, series and collections whose title contains `text` (case-insensitive). With a scope's folders: only media
   * in them, and series and collections with an episode or movie in them.
   */
  search: (text: string, limit: number, scope?: LibraryScope) => Promise<{ media: StoredMetadata[], series: SeriesRecord[], collections: CollectionRecord[] }>
  /** Media with no artwork of their own: no poster (an episode: no still). */
  withoutArtwork: () => Promise<string[]>
  image: (source: string) => Promise<{ cid: string, type: string } | undefined>
  /** The stored image of that CID (its type), or undefined when the CID is none of the catalog's images. */
  imageByCid: (cid: string) => Promise<{ cid: string, type: string } | undefined>
  putImage: (source: string, cid: string, type: string, bytes: number) => Promise<void>
}

/** The metadata repository: writes on the catalog's write queue, reads beside it (`read`). */
export function createMetadataRepository (exclusive: RunExclusive, read: RunRead): MetadataRepository {
  const run = exclusive
  let lastMs = 0
  const now = (): Date => {
    lastMs = Math.max(Date.now(), lastMs + 1)
    return new Date(lastMs)
  }

  async function putSeries (db: EntityManager, id: string, fields: Partial<Omit<SeriesRecord, 'id'>>): Promise<SeriesRecord> {
    const repo = db.getRepository(Series)
    const existing = await repo.findOneBy({ id })
    const at = now()
    const row = existing ?? repo.create({ id, title: fields.title ?? id, originalTitle: null, year: null, overview: null, imdbId: null, tmdbId: null, tvdbId: null, posterCid: null, backdropCid: null, folder: null, createdAt: at })
    if (fields.title != null) row.title = fields.title
    if (fields.originalTitle !== undefined) row.originalTitle = fields.originalTitle
    if (fields.year !== undefined) row.year = fields.year
    if (fields.overview !== undefined) row.overview = fields.overview
    if (fields.ids?.imdb != null) row.imdbId = fields.ids.imdb
    if (fields.ids?.tmdb != null) row.tmdbId = fields.ids.tmdb
    if (fields.ids?.tvdb != null) row.tvdbId = fields.ids.tvdb
    if (fields.poster !== undefined) row.posterCid = fields.poster
    if (fields.backdrop !== undefined) row.backdropCid = fields.backdrop
    if (fields.folder !== undefined) row.folder = fields.folder
    row.updatedAt = at
    await repo.save(row)
    return toSeries(row)
  }

  async function putCollection (db: EntityManager, id: string, fields: Partial<Omit<CollectionRecord, 'id'>>): Promise<CollectionRecord> {
    const repo = db.getRepository(Collection)
    const at = now()
    const row = await repo.findOneBy({ id }) ?? repo.create({ id, title: fields.title ?? id, overview: null, tmdbId: null, posterCid: null, backdropCid: null, createdAt: at })
    if (fields.title != null) row.title = fields.title
    if (fields.overview !== undefined) row.overview = fields.overview
    if (fields.tmdb != null) row.tmdbId = fields.tmdb
    if (fields.poster !== undefined) row.posterCid = fields.poster
    if (fields.backdrop !== undefined) row.backdropCid = fields.backdrop
    row.updatedAt = at
    await repo.save(row)
    return toCollection(row)
  }

  function toAudit (row: MetadataAudit): AuditEntry {
    let changes: FieldChanges = {}
    try { changes = JSON.parse(row.changes) as FieldChanges } catch {}
    return { id: row.id, mediaId: row.mediaId, at: row.at, actor: row.actor, action: row.action, changes, reverts: row.reverts }
  }

  return {
    get: async mediaId => await read(async db => {
      const row = await db.getRepository(MediaMetadata).findOneBy({ mediaId })
      return row == null ? undefined : toStored(row)
    }),

    save: async (mediaId, fields, meta, audit) => await run(async db => await db.transaction(async tx => {
      const repo = tx.getRepository(MediaMetadata)
      const existing = await repo.findOneBy({ mediaId })
      const before = existing == null ? undefined : toStored(existing)
      const changes: FieldChanges = {}
      for (const field of FIELD_NAMES) {
        const from = before?.[field] ?? null
        const to = fields[field] ?? null
        if (!same(from, to)) changes[field] = { from, to }
      }
      const at = now()
      const row = existing ?? repo.create({ mediaId })
      for (const [field, column] of Object.entries(FIELD_COLUMNS)) {
        (row as unknown as Record<string, unknown>)[column] = fields[field as FieldName] ?? null
      }
      row.locked = JSON.stringify([...new Set(fields.locked)].sort())
      row.folder = meta.folder
      row.source = meta.source
      if (meta.identifiedAt !== undefined) row.identifiedAt = meta.identifiedAt
      else if (existing == null) row.identifiedAt = null
      if (Object.keys(changes).length === 0 && existing != null && existing.folder === meta.folder && existing.source === meta.source) return changes
      row.updatedAt = at
      await repo.save(row)
      if (existing == null || changes.title != null || changes.originalTitle != null) {
        await tx.getRepository(MediaSearch).upsert({ mediaId, title: fields.title, text: searchText(fields.title, fields.originalTitle) }, { conflictPaths: ['mediaId'], skipUpdateIfNoValuesChanged: true })
      }
      // the library lists media by these: the media row keeps its title, the key it sorts by, its kind and year
      if (changes.title != null || changes.sortTitle != null) {
        await tx.getRepository(Media).update({ id: mediaId }, { title: fields.title, sortKey: sortKey(fields.title, fields.sortTitle), updatedAt: at })
      }
      if (existing == null || changes.kind != null || changes.year != null || changes.series != null || changes.season != null) {
        await tx.getRepository(Media).update({ id: mediaId }, listColumns(fields))
      }
      if (Object.keys(changes).length > 0) {
        await tx.getRepository(MetadataAudit).insert({ mediaId, at, actor: audit.actor, action: audit.action, changes: JSON.stringify(changes), reverts: audit.reverts ?? null })
      }
      return changes
    })),

    audit: async mediaId => await read(async db => (await db.getRepository(MetadataAudit).find({ where: { mediaId }, order: { id: 'ASC' } })).map(toAudit)),

    auditEntry: async (mediaId, id) => await read(async db => {
      const row = await db.getRepository(MetadataAudit).findOneBy({ mediaId, id })
      return row == null ? undefined : toAudit(row)
    }),

    findSeries: async (ids, folder, title) => await run(async db => {
      const repo = db.getRepository(Series)
      for (const [column, value] of [['tmdbId', ids.tmdb], ['tvdbId', ids.tvdb], ['imdbId', ids.imdb]] as const) {
        if (value == null) continue
        const row = await repo.findOneBy({ [column]: value })
        if (row != null) return toSeries(row)
      }
      if (folder == null) return undefined
      const rows = await repo.findBy({ folder })
      const norm = normalTitle(title)
      const row = rows.find(r => normalTitle(r.title) === norm)
      return row == null ? undefined : toSeries(row)
    }),

    getMany: async mediaIds => {
      if (mediaIds.length === 0) return new Map()
      const rows = await read(async db => await db.getRepository(MediaMetadata).findBy({ mediaId: In([...mediaIds]) }))
      return new Map(rows.map(row => [row.mediaId, toStored(row)]))
    },

    seriesByIds: async ids => {
      if (ids.length === 0) return new Map()
      const rows = await read(async db => await db.getRepository(Series).findBy({ id: In([...ids]) }))
      return new Map(rows.map(row => [row.id, toSeries(row)]))
    },

    collectionsByIds: async ids => {
      if (ids.length === 0) return new Map()
      const rows = await read(async db => await db.getRepository(Collection).findBy({ id: In([...ids]) }))
      return new Map(rows.map(row => [row.id, toCollection(row)]))
    },

    seasonsOf: async seriesIds => {
      const out = new Map<string, SeasonRecord[]>(seriesIds.map(id => [id, []]))
      if (seriesIds.length === 0) return out
      const rows = await read(async db => await db.getRepository(Season).find({ where: { seriesId: In([...seriesIds]) }, order: { number: 'ASC' } }))
      for (const r of rows) out.get(r.seriesId)?.push({ number: r.number, title: r.title, overview: r.overview, poster: r.posterCid })
      return out
    },

    episodeSeasons: async (seriesIds, scope = {}) => {
      const out = new Map<string, Array<{ season: number | null }>>(seriesIds.map(id => [id, []]))
      if (seriesIds.length === 0) return out
      // two columns, not whole rows: a search that finds twenty series counts hundreds of episodes
      const rows = await read(async db => await db.getRepository(MediaMetadata).find({
        select: { seriesId: true, seasonNumber: true },
        where: { seriesId: In([...seriesIds]), kind: 'episode', ...mediaIdInScope(scope) }
      }))
      for (const row of rows) if (row.seriesId != null) out.get(row.seriesId)?.push({ season: row.seasonNumber })
      return out
    },

    collectionSizes: async (collectionIds, scope = {}) => {
      const out = new Map<string, number>(collectionIds.map(id => [id, 0]))
      if (collectionIds.length === 0) return out
      const rows = await read(async db => await db.getRepository(MediaMetadata).find({
        select: { collectionId: true },
        where: { collectionId: In([...collectionIds]), kind: 'movie', ...mediaIdInScope(scope) }
      }))
      for (const row of rows) if (row.collectionId != null) out.set(row.collectionId, (out.get(row.collectionId) ?? 0) + 1)
      return out
    },

    getSeries: async id => await read(async db => {
      const row = await db.getRepository(Series).findOneBy({ id })
      return row == null ? undefined : toSeries(row)
    }),

    // every series at once (they are few next to media), in the library's natural title order
    listSeries: async () => await read(async db => (await db.getRepository(Series).find()).map(toSeries)
      .map(s => ({ s, key: sortKey(s.title) })).sort((a, b) => compare(a.key, b.key) || compare(a.s.id, b.s.id)).map(({ s }) => s)),

    putSeries: async (id, fields) => await run(async db => await putSeries(db, id, fields)),

    seasons: async seriesId => await read(async db => (await db.getRepository(Season).find({ where: { seriesId }, order: { number: 'ASC' } }))
      .map(r => ({ number: r.number, title: r.title, overview: r.overview, poster: r.posterCid }))),

    putSeason: async (seriesId, season) => {
      await run(async db => {
        await db.getRepository(Season).upsert(
          { seriesId, number: season.number, title: season.title, overview: season.overview, posterCid: season.poster },
          { conflictPaths: ['seriesId', 'number'], skipUpdateIfNoValuesChanged: true }
        )
      })
    },

    findCollection: async (tmdb, title) => await run(async db => {
      const repo = db.getRepository(Collection)
      if (tmdb != null) {
        const row = await repo.findOneBy({ tmdbId: tmdb })
        if (row != null) return toCollection(row)
      }
      const norm = normalTitle(title)
      const row = (await repo.find()).find(r => normalTitle(r.title) === norm && (tmdb == null || r.tmdbId == null))
      return row == null ? undefined : toCollection(row)
    }),

    getCollection: async id => await read(async db => {
      const row = await db.getRepository(Collection).findOneBy({ id })
      return row == null ? undefined : toCollection(row)
    }),

    listCollections: async () => await read(async db => (await db.getRepository(Collection).find({ order: { title: 'ASC', id: 'ASC' } })).map(toCollection)),

    putCollection: async (id, fields) => await run(async db => await putCollection(db, id, fields)),

    episodes: async (seriesId, scope = {}) => await read(async db => (await db.getRepository(MediaMetadata).find({
      where: { seriesId, kind: 'episode', ...mediaIdInScope(scope) },
      order: { seasonNumber: 'ASC', episodeNumber: 'ASC', title: 'ASC', mediaId: 'ASC' }
    })).map(toStored)),

    collectionMovies: async (collectionId, scope = {}) => await read(async db => (await db.getRepository(MediaMetadata).find({
      where: { collectionId, kind: 'movie', ...mediaIdInScope(scope) }
    })).map(toStored).sort(byRelease)),

    extras: async (folder, scope = {}) => await read(async db => (await db.getRepository(MediaMetadata).find({ where: { folder, kind: 'extra', ...mediaIdInScope(scope) }, order: { title: 'ASC' } })).map(toStored)),

    search: async (text, limit, scope = {}) => await read(async db => {
      const pattern = searchPattern(text)
      const { folders } = scope
      const anything: SqlCondition = { sql: '1 = 1', params: {} }
      // with folders, a series or a collection is found only through an episode or a movie of it inside them
      const through = (link: string, kind: 'episode' | 'movie'): SqlCondition => {
        if (folders === undefined) return anything
        const inside = mediaInFolders('e.media_id', folders)
        return { sql: `EXISTS (SELECT 1 FROM media_metadata e WHERE ${link} AND e.kind = '${kind}' AND ${inside.sql})`, params: inside.params }
      }
      const ownMedia = folders === undefined ? anything : mediaInFolders('m.media_id', folders)
      // the titles lowered once, at save (search-text.ts), in a narrow table: one LIKE per row, no LOWER; the
      // matches sorted as ids and titles, then only the page read whole
      const mediaIds = async (): Promise<string[]> => (await db.getRepository(MediaSearch).createQueryBuilder('m')
        .select('m.media_id', 'id')
        .where("m.text LIKE :p ESCAPE '\\'", { p: pattern })
        .andWhere(ownMedia.sql, ownMedia.params)
        .orderBy('m.title', 'ASC').addOrderBy('m.media_id', 'ASC').limit(limit).getRawMany<{ id: string }>()).map(row => row.id)
      const seriesHeld = through('e.series_id = s.id', 'episode')
      const collectionHeld = through('e.collection_id = c.id', 'movie')
      // series and collections are few: their titles are lowered as they are scanned
      const [ids, series, collections] = await Promise.all([
        mediaIds(),
        db.getRepository(Series).createQueryBuilder('s')
          .where("(LOWER(s.title) LIKE :p ESCAPE '\\' OR LOWER(s.original_title) LIKE :p ESCAPE '\\')", { p: pattern })
          .andWhere(seriesHeld.sql, seriesHeld.params)
          .orderBy('s.title', 'ASC').limit(limit).getMany(),
        db.getRepository(Collection).createQueryBuilder('c')
          .where("LOWER(c.title) LIKE :p ESCAPE '\\'", { p: pattern })
          .andWhere(collectionHeld.sql, collectionHeld.params)
          .orderBy('c.title', 'ASC').limit(limit).getMany()
      ])
      const rows = new Map((ids.length === 0 ? [] : await db.getRepository(MediaMetadata).findBy({ mediaId: In(ids) })).map(row => [row.mediaId, row]))
      const media = ids.flatMap(id => { const row = rows.get(id); return row == null ? [] : [toStored(row)] })
      return { media, series: series.map(toSeries), collections: collections.map(toCollection) }
    }),

    withoutArtwork: async () => await read(async db => (await db.getRepository(MediaMetadata).createQueryBuilder('m')
      .select('m.media_id', 'id')
      .where("(m.kind = 'episode' AND m.still_cid IS NULL) OR (m.kind <> 'episode' AND m.poster_cid IS NULL)")
      .orderBy('m.media_id', 'ASC')
      .getRawMany<{ id: string }>()).map(row => row.id)),

    image: async source => await read(async db => {
      const row = await db.getRepository(StoredImage).findOneBy({ sourceHash: createHash('sha256').update(source).digest('hex') })
      return row == null ? undefined : { cid: row.cid, type: row.type }
    }),

    imageByCid: async cid => await read(async db => {
      const row = await db.getRepository(StoredImage).findOneBy({ cid })
      return row == null ? undefined : { cid: row.cid, type: row.type }
    }),

    putImage: async (source, cid, type, bytes) => {
      await run(async db => {
        await db.getRepository(StoredImage).upsert(
          { sourceHash: createHash('sha256').update(source).digest('hex'), source, cid, type, bytes, createdAt: now() },
          { conflictPaths: ['sourceHash'] }
        )
      })
    }
  }
}

/** Plain code-unit order: the database compares sort keys bytewise, which agrees for every key but astral characters. */
function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function byRelease (a: StoredMetadata, b: StoredMetadata): number {
  const key = (m: StoredMetadata): string => m.releaseDate ?? (m.year == null ? '9999' : `${m.year}`)
  return key(a).localeCompare(key(b)) || a.title.localeCompare(b.title) || a.mediaId.localeCompare(b.mediaId)
}
