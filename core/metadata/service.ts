import { MediaNotFoundError } from '../errors.ts'
import { applyGathered, fieldsOf } from './apply.ts'
import { patchFields, parsePatch, writeItemNfo } from './editor.ts'
import { AuditEntryNotFoundError, CollectionNotFoundError, NoProviderError, SeriesNotFoundError } from './errors.ts'
import { createFrameArtwork } from './frame-artwork.ts'
import { gather, matchIds } from './gather.ts'
import { collectionView, itemSummary, mediaView, mediaViews, nextOf, seasonTitle, seriesView } from './views.ts'
import type { ImageStore } from './image-store.ts'
import type { MetadataProvider } from './providers/provider.ts'
import type { AuditEntry, Catalog, FieldChanges, FieldName, MediaRecord, MetadataFields, MetadataRepository, SeriesRecord, StoredMetadata } from '../catalog/index.ts'
import type { Match, ProviderName } from './types.ts'
import type { CollectionView, ItemSummary, MediaMetadataView, SeasonView, SeriesView } from './views.ts'
import type { Logger } from '../logger.ts'
import type { LibraryScope } from '../media-query.ts'
import type { PosterFrames } from '../media/index.ts'

/*
 * The metadata part: identification at add time (path and NFO at once, providers in the background so a slow
 * or failing provider never delays or fails an add), identification on demand with a list of matches to pick
 * from, hand edits with locks, the audit trail and reverts, and the series / collection structure the API
 * and "next item" read. Work on one media runs one step at a time. Media left without artwork get a frame of
 * their video (frame-artwork.ts), on the same background queue as the providers: one ffmpeg at a time.
 */

export interface MetadataServiceComponents {
  logger: Logger
  catalog: Pick<Catalog, 'getMedia' | 'getMediaMany'>
  /** In the configured order; empty: the library works from paths and NFO files. */
  providers: readonly MetadataProvider[]
  images?: ImageStore
  /** Takes poster frames from videos; absent: media without artwork stay without. */
  frames?: PosterFrames
  /** The metadata's rows in the catalog (`catalog.repositories.metadata`). */
  store: MetadataRepository
}

export interface MetadataServiceInit {
  /** Write an NFO next to the media when a user edits its metadata: for every media, or those under these folders. @default false */
  writeNfo?: boolean | string[]
}

export interface IdentifyResult {
  metadata: MediaMetadataView
  changes: FieldChanges
  /** Why a source was not used (unreadable NFO, a provider failure...). */
  errors: string[]
}

export interface MetadataService {
  /** Queues a poster frame for every media with a picture and no artwork (those stored before frames existed). */
  start: () => Promise<void>
  /** Aborts background identification and waits for it. */
  stop: () => Promise<void>
  /** Library hook: identifies a media from its path and NFO now and queues the providers; never throws. */
  added: (media: MediaRecord, created: boolean) => Promise<void>
  /** Library hook: the metadata fields of a media's view. */
  describe: (media: MediaRecord) => Promise<MediaMetadataView>
  /** `describe` for a page of media at once, in their order. */
  describeMany: (media: readonly MediaRecord[]) => Promise<MediaMetadataView[]>
  /** The metadata of a media by id; throws MediaNotFoundError. */
  get: (mediaId: string) => Promise<MediaMetadataView>
  /** Identifies a media now, with providers; `match` names the item (a pick from `matches`). */
  identify: (mediaId: string, options?: { match?: Pick<Match, 'provider' | 'kind' | 'id'> }) => Promise<IdentifyResult>
  /** Provider matches for a media (by its title and year, or `query`). */
  matches: (mediaId: string, options?: { query?: string, year?: number }) => Promise<{ kind: 'movie' | 'series', matches: Match[], errors: string[] }>
  /** Applies a hand edit (a PATCH body); edited fields are locked. */
  edit: (mediaId: string, patch: unknown, actor?: string) => Promise<{ metadata: MediaMetadataView, changes: FieldChanges, nfo?: string, warnings: string[] }>
  history: (mediaId: string) => Promise<AuditEntry[]>
  /** Sets each field an audit entry changed back to its value before it. */
  revert: (mediaId: string, entryId: number, actor?: string) => Promise<{ metadata: MediaMetadataView, changes: FieldChanges }>
  /*
   * What follows shows only what lies in `scope` (a viewer's library folders): a series or a collection with nothing
   * in it is absent, and asked for by id answers as one that does not exist. The media named by id is not checked
   * here (the gateway refuses a hidden media before), only what is listed with it.
   */
  listSeries: (scope?: LibraryScope) => Promise<SeriesView[]>
  series: (id: string, scope?: LibraryScope) => Promise<SeriesView>
  season: (seriesId: string, number: number, scope?: LibraryScope) => Promise<SeasonView & { series: { id: string, title: string }, episodes: ItemSummary[] }>
  episodes: (seriesId: string, scope?: LibraryScope) => Promise<ItemSummary[]>
  listCollections: (scope?: LibraryScope) => Promise<CollectionView[]>
  collection: (id: string, scope?: LibraryScope) => Promise<CollectionView & { items: ItemSummary[] }>
  /** The next episode, or the next movie of the collection; null when there is none. */
  next: (mediaId: string, scope?: LibraryScope) => Promise<ItemSummary | null>
  extras: (mediaId: string, scope?: LibraryScope) => Promise<ItemSummary[]>
  search: (text: string, limit?: number, scope?: LibraryScope) => Promise<{ media: ItemSummary[], series: SeriesView[], collections: CollectionView[] }>
  /** Resolves when no background identification is queued or running. */
  idle: () => Promise<void>
  readonly providerNames: ProviderName[]
  readonly store: MetadataRepository
}

/** Creates the metadata service. */
export function createMetadataService (components: MetadataServiceComponents, init: MetadataServiceInit = {}): MetadataService {
  const log = components.logger.child({ name: 'cidcast:metadata' })
  const { store } = components
  const providers = components.providers
  const applying = { log, store, images: components.images }
  const frameArt = components.frames != null && components.images != null
    ? createFrameArtwork({ log, store, images: components.images, frames: components.frames })
    : undefined
  const chains = new Map<string, Promise<unknown>>()
  let controller = new AbortController()
  let background: Promise<void> = Promise.resolve()
  let queued = 0

  /** Whether edits of the media at `path` are written back to its NFO. */
  function writesNfo (path: string): boolean {
    const setting = init.writeNfo ?? false
    return Array.isArray(setting) ? setting.some(folder => path.startsWith(folder.endsWith('/') ? folder : `${folder}/`)) : setting
  }

  /** Runs `fn` after earlier work on the same media. */
  async function serial<T> (mediaId: string, fn: () => Promise<T>): Promise<T> {
    const before = chains.get(mediaId) ?? Promise.resolve()
    const run = before.catch(() => {}).then(fn)
    const settled = run.catch(() => {})
    chains.set(mediaId, settled)
    void settled.then(() => { if (chains.get(mediaId) === settled) chains.delete(mediaId) })
    return await run
  }

  async function media (mediaId: string): Promise<MediaRecord> {
    if (typeof mediaId !== 'string' || !/^[0-9a-f]{16}$/.test(mediaId)) throw new MediaNotFoundError(`no media ${JSON.stringify(String(mediaId).slice(0, 64))}`)
    const record = await components.catalog.getMedia(mediaId)
    if (record == null) throw new MediaNotFoundError(`no media ${mediaId}`)
    return record
  }

  /** A series and its episodes in `scope`; limited to some folders, a series with no episode in them does not exist. */
  async function seriesIn (id: string, scope: LibraryScope): Promise<{ series: SeriesRecord, episodes: StoredMetadata[] }> {
    const series = typeof id === 'string' ? await store.getSeries(id) : undefined
    const episodes = series == null ? [] : await store.episodes(series.id, scope)
    if (series == null || (scope.folders !== undefined && episodes.length === 0)) throw new SeriesNotFoundError(`no series ${JSON.stringify(String(id).slice(0, 64))}`)
    return { series, episodes }
  }

  async function view (record: MediaRecord): Promise<MediaMetadataView> {
    return await mediaView(store, record, await store.get(record.id))
  }

  async function summary (m: StoredMetadata): Promise<ItemSummary> {
    return itemSummary(m, (await components.catalog.getMedia(m.mediaId))?.durationSeconds ?? null)
  }

  /** Summaries of a list of items, their durations read in one query. */
  async function summaries (list: readonly StoredMetadata[]): Promise<ItemSummary[]> {
    const durations = new Map((await components.catalog.getMediaMany(list.map(m => m.mediaId))).map(m => [m.id, m.durationSeconds]))
    return list.map(m => itemSummary(m, durations.get(m.mediaId) ?? null))
  }

  async function identifyNow (record: MediaRecord, local: boolean, match?: Pick<Match, 'provider' | 'kind' | 'id'>): Promise<IdentifyResult> {
    const gathered = await gather(log, record.path, { providers, local, match, signal: controller.signal })
    const frame = await frameArt?.known(record)
    const changes = await applyGathered(applying, record.id, record.path, gathered, { mode: match == null ? 'auto' : 'match', actor: match == null ? gathered.source : 'user', signal: controller.signal, frame })
    return { metadata: await view(record), changes, errors: gathered.errors }
  }

  /** Queues background work on a media: identification by the providers, then a frame if it still has no artwork. */
  function enqueue (record: MediaRecord, steps: { identify: boolean }): void {
    queued++
    const signal = controller.signal
    background = background.then(async () => {
      try {
        if (signal.aborted) return
        try {
          if (steps.identify) await serial(record.id, async () => await identifyNow(record, false))
        } catch (err) {
          if (!signal.aborted) log.warn({ mediaId: record.id, err }, 'background identification failed')
        }
        try {
          if (!signal.aborted) await frameArt?.apply(record, { signal, serial })
        } catch (err) {
          if (!signal.aborted) log.warn({ mediaId: record.id, reason: (err as Error).message }, 'no artwork taken from the video')
        }
      } finally {
        queued--
      }
    })
  }

  return {
    store,
    get providerNames () { return providers.map(p => p.name) },

    async start () {
      if (controller.signal.aborted) controller = new AbortController()
      if (frameArt == null) return
      // in the background too, so a large library does not hold up the server's start
      const signal = controller.signal
      queued++
      background = background.then(async () => {
        try {
          for (const id of await store.withoutArtwork()) {
            if (signal.aborted) return
            const record = await components.catalog.getMedia(id)
            if (record != null && record.path !== '' && await frameArt.wanted(record)) enqueue(record, { identify: false })
          }
        } catch (err) {
          if (!signal.aborted) log.warn({ err }, 'looking for media without artwork failed')
        } finally {
          queued--
        }
      })
    },

    async stop () {
      controller.abort()
      await background
      await Promise.all([...chains.values()])
    },

    async added (record, created) {
      try {
        const known = await store.get(record.id)
        if (!created && known != null) return
        await serial(record.id, async () => await identifyNow(record, true))
        if (record.path !== '' && (providers.length > 0 || frameArt != null)) enqueue(record, { identify: providers.length > 0 })
      } catch (err) {
        log.warn({ mediaId: record.id, err }, 'identification at add time failed; the media stays playable')
      }
    },

    async describe (record) {
      return await view(record)
    },

    async describeMany (records) {
      return await mediaViews(store, records)
    },

    async get (mediaId) {
      return await view(await media(mediaId))
    },

    async identify (mediaId, options = {}) {
      const record = await media(mediaId)
      if (options.match != null) {
        if (!providers.some(p => p.name === options.match?.provider)) throw new NoProviderError(`provider ${JSON.stringify(String(options.match.provider)).slice(0, 20)} is not configured`)
        if (Object.keys(matchIds(options.match)).length === 0) throw new NoProviderError(`${options.match.provider} has no item ${JSON.stringify(String(options.match.id)).slice(0, 40)}`)
      }
      const result = await serial(mediaId, async () => await identifyNow(record, false, options.match))
      // a media identification left without artwork gets its frame (looked up when taken before)
      if (await frameArt?.wanted(record) === true) enqueue(record, { identify: false })
      return result
    },

    async matches (mediaId, options = {}) {
      const record = await media(mediaId)
      if (providers.length === 0) throw new NoProviderError('no metadata provider is configured (set CIDCAST_TMDB_KEY, CIDCAST_TVDB_KEY or CIDCAST_OMDB_KEY)')
      const stored = await store.get(mediaId)
      const current = await view(record)
      const kind = current.kind === 'episode' ? 'series' : 'movie'
      const query = options.query ?? (kind === 'series' ? current.series?.title : undefined) ?? stored?.title ?? record.title
      const year = options.year ?? (kind === 'movie' ? current.year ?? undefined : undefined)
      const errors: string[] = []
      const all: Match[] = []
      for (const p of providers) {
        try {
          all.push(...(kind === 'series' ? await p.searchSeries(query, year) : await p.searchMovies(query, year)))
        } catch (err) {
          errors.push(`${p.name}: ${(err as Error).message}`)
        }
      }
      return { kind, matches: all, errors }
    },

    async edit (mediaId, body, actor = 'user') {
      const patch = parsePatch(body)
      const record = await media(mediaId)
      return await serial(mediaId, async () => {
        let stored = await store.get(mediaId)
        if (stored == null) {
          await identifyNow(record, true)
          stored = await store.get(mediaId) as StoredMetadata
        }
        const next = await patchFields(store, fieldsOf(stored), stored.folder, patch)
        const changes = await store.save(mediaId, next, { folder: stored.folder, source: stored.source }, { actor, action: 'edit' })
        const warnings: string[] = []
        let nfo: string | undefined
        if (writesNfo(record.path) && Object.keys(changes).some(f => f !== 'locked')) {
          try {
            const series = next.series == null ? undefined : await store.getSeries(next.series)
            const collection = next.collection == null ? undefined : await store.getCollection(next.collection)
            nfo = await writeItemNfo(record.path, next, series?.title, collection?.title)
          } catch (err) {
            log.warn({ mediaId, reason: (err as Error).message }, 'NFO not written')
            warnings.push(`NFO not written: ${(err as Error).message}`)
          }
        }
        return { metadata: await view(record), changes, nfo, warnings }
      })
    },

    async history (mediaId) {
      await media(mediaId)
      return await store.audit(mediaId)
    },

    async revert (mediaId, entryId, actor = 'user') {
      const record = await media(mediaId)
      return await serial(mediaId, async () => {
        const entry = Number.isSafeInteger(entryId) ? await store.auditEntry(mediaId, entryId) : undefined
        if (entry == null) throw new AuditEntryNotFoundError(`media ${mediaId} has no audit entry ${String(entryId).slice(0, 20)}`)
        const stored = await store.get(mediaId)
        if (stored == null) throw new AuditEntryNotFoundError(`media ${mediaId} has no metadata`)
        const fields: MetadataFields = fieldsOf(stored)
        for (const [field, change] of Object.entries(entry.changes)) {
          (fields as unknown as Record<string, unknown>)[field as FieldName] = change?.from ?? (field === 'locked' ? [] : null)
        }
        if (typeof fields.title !== 'string' || fields.title === '') fields.title = stored.title
        if (fields.kind == null) fields.kind = stored.kind
        const changes = await store.save(mediaId, fields, { folder: stored.folder, source: stored.source }, { actor, action: 'revert', reverts: entry.id })
        return { metadata: await view(record), changes }
      })
    },

    async listSeries (scope = {}) {
      const all = await store.listSeries()
      const ids = all.map(s => s.id)
      // every series' seasons and episode counts in two queries, not two per series
      const [seasons, episodes] = await Promise.all([store.seasonsOf(ids), store.episodeSeasons(ids, scope)])
      return all.filter(s => (episodes.get(s.id)?.length ?? 0) > 0).map(s => seriesView(s, seasons.get(s.id) ?? [], episodes.get(s.id) ?? []))
    },

    async series (id, scope = {}) {
      const { series, episodes } = await seriesIn(id, scope)
      return seriesView(series, await store.seasons(series.id), episodes)
    },

    async season (seriesId, number, scope = {}) {
      const { series: s, episodes: all } = await seriesIn(seriesId, scope)
      const episodes = all.filter(e => e.season === number)
      const seasons = await store.seasons(s.id)
      const found = seriesView(s, seasons, episodes).seasons.find(x => x.number === number)
      if (found == null) throw new SeriesNotFoundError(`series ${s.id} has no season ${number}`)
      return { ...found, title: seasonTitle(number, seasons.find(x => x.number === number)?.title), series: { id: s.id, title: s.title }, episodes: await summaries(episodes) }
    },

    async episodes (seriesId, scope = {}) {
      const { episodes: all } = await seriesIn(seriesId, scope)
      // aired order, specials last
      return await summaries([...all.filter(e => e.season !== 0), ...all.filter(e => e.season === 0)])
    },

    async listCollections (scope = {}) {
      const out: CollectionView[] = []
      for (const c of await store.listCollections()) {
        const items = await store.collectionMovies(c.id, scope)
        if (items.length > 0) out.push(collectionView(c, items.length))
      }
      return out
    },

    async collection (id, scope = {}) {
      const c = typeof id === 'string' ? await store.getCollection(id) : undefined
      const items = c == null ? [] : await store.collectionMovies(c.id, scope)
      // limited to some folders, a collection with nothing in them is one that does not exist
      if (c == null || (scope.folders !== undefined && items.length === 0)) throw new CollectionNotFoundError(`no collection ${JSON.stringify(String(id).slice(0, 64))}`)
      return { ...collectionView(c, items.length), items: await summaries(items) }
    },

    async next (mediaId, scope = {}) {
      await media(mediaId)
      const current = await store.get(mediaId)
      if (current == null) return null
      let siblings: StoredMetadata[] = []
      if (current.kind === 'episode' && current.series != null) siblings = await store.episodes(current.series, scope)
      else if (current.kind === 'movie' && current.collection != null) siblings = await store.collectionMovies(current.collection, scope)
      const found = nextOf(current, siblings)
      return found == null ? null : await summary(found)
    },

    async extras (mediaId, scope = {}) {
      await media(mediaId)
      const current = await store.get(mediaId)
      if (current == null || current.kind === 'extra') return []
      return await summaries(await store.extras(current.folder, scope))
    },

    async search (text, limit = 50, scope = {}) {
      const found = await store.search(text, limit, scope)
      // a few queries for the whole answer, not a few per item found
      const seriesIds = found.series.map(s => s.id)
      const [seasons, episodes, sizes, media] = await Promise.all([
        store.seasonsOf(seriesIds),
        store.episodeSeasons(seriesIds, scope),
        store.collectionSizes(found.collections.map(c => c.id), scope),
        summaries(found.media)
      ])
      return {
        media,
        series: found.series.map(s => seriesView(s, seasons.get(s.id) ?? [], episodes.get(s.id) ?? [])),
        collections: found.collections.map(c => collectionView(c, sizes.get(c.id) ?? 0))
      }
    },

    async idle () {
      // a background step may queue nothing more, but an add during the wait may: look again until quiet
      for (let round = 0; round < 1000; round++) {
        await background
        await Promise.all([...chains.values()])
        if (queued === 0) return
      }
    }
  }
}
