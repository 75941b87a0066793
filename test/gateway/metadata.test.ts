import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { pngOf, startProviderStub } from '../../fixtures/providers/stub-server.ts'
import { startServer } from '../../node/server.ts'
import { placeClip, stubConfig } from '../core/metadata/helpers.ts'
import { adminToken, bearer, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { serverDatabase } from '../helpers/database.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { ProviderStub } from '../../fixtures/providers/stub-server.ts'
import type { RunningServer } from '../../node/server.ts'
import type { TestFn } from 'ava'

interface Context { server: RunningServer, token: string, stub: ProviderStub, library: string, ids: Record<string, string>, stop: () => Promise<void> }
const test = anyTest as TestFn<Context>

const FILES: Record<string, string> = {
  matrix: 'Movies/The Matrix (1999)/The Matrix (1999).mp4',
  reloaded: 'Movies/The.Matrix.Reloaded.2003.1080p.BluRay.x264.mp4',
  pilot: 'TV/Breaking Bad (2008)/Season 01/Breaking Bad - S01E01.mp4',
  cat: 'TV/Breaking Bad (2008)/Season 01/Breaking Bad - S01E02.mp4',
  season2: 'TV/Breaking Bad (2008)/Season 02/Breaking.Bad.S02E01.720p.mp4'
}

test.before(async t => {
  const parts: Array<() => Promise<void>> = []
  t.context.stop = async () => { for (const stop of parts.toReversed()) await stop() }
  const dir = await tempDir('cidcast-gw-metadata-')
  parts.push(dir.remove)
  const stub = await startProviderStub()
  parts.push(stub.stop)
  const server = await startServer({ dataDir: join(dir.path, 'data'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', metadata: stubConfig(stub), accounts: TEST_ACCOUNTS, ...await serverDatabase() })
  parts.push(server.stop)
  // the admin's: media are added and metadata edited below
  const token = await adminToken(server)
  const library = join(dir.path, 'library')
  const clip = await fixture('h264-aac-10s')
  const ids: Record<string, string> = {}
  for (const [name, path] of Object.entries(FILES)) {
    ids[name] = (await server.addMedia(await placeClip(clip, join(library, path)))).id
  }
  await server.metadata.idle()
  Object.assign(t.context, { server, token, stub, library, ids })
})

test.after.always(async t => { await t.context.stop?.() })

/** A call as the server's admin. */
async function api (t: { context: Context }, method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> {
  const res = await fetch(t.context.server.url + path, {
    method,
    headers: { ...bearer(t.context.token), ...body === undefined ? {} : { 'Content-Type': 'application/json' } },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
}

test.serial('GET /api/v1/media/{id} carries title, year, overview, ids and, for an episode, its series, season and episode', async t => {
  const movie = await api(t, 'GET', `/api/v1/media/${t.context.ids.matrix}`)
  t.is(movie.status, 200)
  t.like(movie.json, { title: 'The Matrix', year: 1999, kind: 'movie', ids: { imdb: 'tt0133093', tmdb: 603, tvdb: null }, series: null, season: null, episode: null, playlist: `/media/${t.context.ids.matrix}/master.m3u8` })
  t.regex(movie.json.overview, /22nd century/)
  t.true(Array.isArray(movie.json.renditions) && movie.json.renditions.length > 0, 'renditions are still there')
  t.is(typeof movie.json.sourceCid, 'string')

  const episode = await api(t, 'GET', `/api/v1/media/${t.context.ids.cat}`)
  t.like(episode.json, { title: 'Cat\'s in the Bag...', kind: 'episode', season: 1, episode: 2, year: 2008, ids: { tmdb: 62086, imdb: 'tt1054724', tvdb: 349233 }, series: { title: 'Breaking Bad' } })
  t.is(typeof episode.json.series.id, 'string')
  const list = await api(t, 'GET', '/api/v1/media')
  t.like(list.json.items.find((m: { id: string }) => m.id === t.context.ids.pilot), { title: 'Pilot', season: 1, episode: 1 })
})

test.serial('series, seasons, episodes, collections and next items are exposed in order', async t => {
  const { ids } = t.context
  const seriesList = await api(t, 'GET', '/api/v1/series')
  t.deepEqual(seriesList.json.items.map((s: { title: string }) => s.title), ['Breaking Bad'])
  const seriesId = seriesList.json.items[0].id
  const series = await api(t, 'GET', `/api/v1/series/${seriesId}`)
  t.like(series.json, { title: 'Breaking Bad', year: 2008, ids: { tmdb: 1396, tvdb: 81189, imdb: 'tt0903747' }, episodeCount: 3 })
  t.deepEqual((await api(t, 'GET', `/api/v1/series/${seriesId}/seasons`)).json.items.map((s: { number: number, episodeCount: number }) => [s.number, s.episodeCount]), [[1, 2], [2, 1]])
  const season = await api(t, 'GET', `/api/v1/series/${seriesId}/seasons/1`)
  t.deepEqual(season.json.episodes.map((e: { id: string }) => e.id), [ids.pilot, ids.cat])
  t.deepEqual((await api(t, 'GET', `/api/v1/series/${seriesId}/episodes`)).json.items.map((e: { id: string }) => e.id), [ids.pilot, ids.cat, ids.season2])
  t.is((await api(t, 'GET', `/api/v1/media/${ids.cat}/next`)).json.next.id, ids.season2)
  t.is((await api(t, 'GET', `/api/v1/media/${ids.season2}/next`)).json.next, null)

  const collections = await api(t, 'GET', '/api/v1/collections')
  t.deepEqual(collections.json.items.map((c: { title: string, itemCount: number }) => [c.title, c.itemCount]), [['The Matrix Collection', 2]])
  const collection = await api(t, 'GET', `/api/v1/collections/${collections.json.items[0].id}`)
  t.deepEqual(collection.json.items.map((m: { id: string }) => m.id), [ids.matrix, ids.reloaded])
  t.is((await api(t, 'GET', `/api/v1/media/${ids.matrix}/next`)).json.next.id, ids.reloaded)

  for (const [path, error] of [['/api/v1/series/nope', 'SeriesNotFoundError'], [`/api/v1/series/${seriesId}/seasons/7`, 'SeriesNotFoundError'], [`/api/v1/series/${seriesId}/seasons/x`, 'InvalidRequestError'], ['/api/v1/collections/nope', 'CollectionNotFoundError'], ['/api/v1/media/0000000000000000/next', 'MediaNotFoundError']]) {
    const res = await api(t, 'GET', path)
    t.is(res.json.error, error, path)
  }
})

test.serial('posters are stored in IPFS and served to signed-in users as images, by the artwork route and by /ipfs', async t => {
  const movie = (await api(t, 'GET', `/api/v1/media/${t.context.ids.matrix}`)).json
  const { cid, url } = movie.images.poster
  t.is(url, `/api/v1/images/${cid as string}`)
  const expected = pngOf('/tmdb-images/t/p/w500/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg')
  const res = await fetch(t.context.server.url + url, { headers: bearer(t.context.token) })
  t.is(res.status, 200)
  t.is(res.headers.get('content-type'), 'image/png', 'the type sniffed from the bytes (the stub answers a PNG under .jpg)')
  t.is(res.headers.get('etag'), `"${cid as string}"`)
  t.regex(res.headers.get('cache-control') ?? '', /^private, .*immutable/)
  t.deepEqual(Buffer.from(await res.arrayBuffer()), expected)
  const viaIpfs = await fetch(`${t.context.server.url}/ipfs/${cid as string}`, { headers: bearer(t.context.token) })
  t.deepEqual(Buffer.from(await viaIpfs.arrayBuffer()), expected)
  const still = (await api(t, 'GET', `/api/v1/media/${t.context.ids.pilot}`)).json.images.still
  t.is((await fetch(t.context.server.url + still.url, { headers: bearer(t.context.token) })).status, 200)
  t.is((await fetch(t.context.server.url + still.url)).status, 401, 'artwork is for signed-in users')
  t.is((await fetch(`${t.context.server.url}/ipfs/${still.cid as string}`)).status, 401, 'content is for signed-in callers and stream tokens')
})

test.serial('the artwork route answers only the library images: other content is 404, a bad CID 400', async t => {
  const media = (await api(t, 'GET', `/api/v1/media/${t.context.ids.matrix}`)).json
  const segmentRoot = media.renditions.find((r: { root: string | null }) => r.root != null)?.root as string | undefined
  const other = segmentRoot ?? 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
  for (const [path, status, error] of [[`/api/v1/images/${other}`, 404, 'ContentNotFoundError'], ['/api/v1/images/not-a-cid', 400, 'InvalidCIDError']] as const) {
    const res = await api(t, 'GET', path)
    t.is(res.status, status, path)
    t.is(res.json.error, error, path)
  }
})

test.serial('PATCH edits and locks fields, history lists the change, and a revert undoes it', async t => {
  const id = t.context.ids.reloaded
  const patched = await api(t, 'PATCH', `/api/v1/media/${id}/metadata`, { title: 'Reloaded', year: 2004, overview: 'Edited by hand.' })
  t.is(patched.status, 200)
  t.like(patched.json.metadata, { title: 'Reloaded', year: 2004, overview: 'Edited by hand.', locked: ['overview', 'title', 'year'] })
  t.like((await api(t, 'GET', `/api/v1/media/${id}`)).json, { title: 'Reloaded', year: 2004 })
  // a refresh keeps the edit
  const refreshed = await api(t, 'POST', `/api/v1/media/${id}/identify`)
  t.is(refreshed.status, 200)
  t.like(refreshed.json.metadata, { title: 'Reloaded', tagline: 'Free your mind.' })
  const history = (await api(t, 'GET', `/api/v1/media/${id}/metadata/history`)).json.items
  const edit = history.find((e: { action: string }) => e.action === 'edit')
  t.like(edit, { actor: 'user', changes: { title: { from: 'The Matrix Reloaded', to: 'Reloaded' } } })
  const reverted = await api(t, 'POST', `/api/v1/media/${id}/metadata/history/${edit.id}/revert`)
  t.like(reverted.json.metadata, { title: 'The Matrix Reloaded', year: 2003, locked: [] })
  t.is((await api(t, 'GET', `/api/v1/media/${id}/metadata`)).json.title, 'The Matrix Reloaded')
  t.is((await api(t, 'POST', `/api/v1/media/${id}/metadata/history/999999/revert`)).json.error, 'AuditEntryNotFoundError')
})

test.serial('bad edits get a 400 naming the problem', async t => {
  const id = t.context.ids.matrix
  for (const body of [{ title: 'x'.repeat(1000) }, { year: 30000 }, { ids: { imdb: 'x' } }, { nonsense: 1 }, '{broken', '[]']) {
    const res = await api(t, 'PATCH', `/api/v1/media/${id}/metadata`, body)
    t.is(res.status, 400, JSON.stringify(body).slice(0, 40))
    t.is(typeof res.json.message, 'string')
  }
  t.is((await api(t, 'PATCH', '/api/v1/media/0000000000000000/metadata', { title: 'x' })).status, 404)
  t.is((await api(t, 'GET', `/api/v1/media/${id}`)).json.title, 'The Matrix')
})

test.serial('identify lists matches to pick from; picking one re-identifies the media', async t => {
  const id = t.context.ids.reloaded
  const matches = await api(t, 'GET', `/api/v1/media/${id}/matches?query=The%20Matrix`)
  t.is(matches.status, 200)
  t.is(matches.json.kind, 'movie')
  t.true(matches.json.matches.some((m: { provider: string, id: string }) => m.provider === 'tmdb' && m.id === '605'))
  const picked = await api(t, 'POST', `/api/v1/media/${id}/identify`, { match: { provider: 'tmdb', kind: 'movie', id: '605' } })
  t.like(picked.json.metadata, { title: 'The Matrix Revolutions', ids: { tmdb: 605 } })
  const bad = await api(t, 'POST', `/api/v1/media/${id}/identify`, { match: { provider: 'tmdb', kind: 'film', id: '605' } })
  t.is(bad.status, 400)
  await api(t, 'POST', `/api/v1/media/${id}/identify`, { match: { provider: 'tmdb', kind: 'movie', id: '604' } })
})

test.serial('search finds media, series and collections by title', async t => {
  const res = await api(t, 'GET', '/api/v1/search?q=bag')
  t.deepEqual(res.json.media.map((m: { id: string }) => m.id), [t.context.ids.cat])
  t.deepEqual((await api(t, 'GET', '/api/v1/search?q=breaking')).json.series.map((s: { title: string }) => s.title), ['Breaking Bad'])
  t.deepEqual((await api(t, 'GET', '/api/v1/search?q=collection')).json.collections.map((c: { title: string }) => c.title), ['The Matrix Collection'])
  t.is((await api(t, 'GET', '/api/v1/search')).status, 400)
  t.deepEqual((await api(t, 'GET', '/api/v1/providers')).status, 404)
  t.deepEqual((await api(t, 'GET', '/api/v1/metadata/providers')).json.providers, ['tmdb', 'tvdb', 'omdb'])
})

test.serial('with every provider down, adding a file still succeeds at once and it plays', async t => {
  const { stub, server, library } = t.context
  stub.fault('/tmdb/', { kind: 'slow' }, 1000)
  stub.fault('/tvdb/', { status: 500 }, 1000)
  stub.fault('/omdb/', { status: 429, retryAfter: '3600' }, 1000)
  const path = await placeClip(await fixture('h264-aac-10s'), join(library, 'Movies/Heat (1995)/Heat (1995).mp4'))
  const res = await api(t, 'POST', '/api/v1/media', { path })
  t.is(res.status, 201)
  // "at once": the answer came while the lookup still waits out the silent provider (two 2 s deadlines)
  let lookedUp = false
  void server.metadata.idle().then(() => { lookedUp = true })
  await Promise.resolve()
  t.false(lookedUp, 'the add waited for the metadata lookup')
  t.like(res.json, { title: 'Heat', year: 1995, kind: 'movie' })
  const playlist = await fetch(`${server.url}/media/${res.json.id}/master.m3u8`, { headers: bearer(t.context.token) })
  t.is(playlist.status, 200)
  await server.metadata.idle()
  t.like((await api(t, 'GET', `/api/v1/media/${res.json.id}`)).json, { title: 'Heat', year: 1995, metadataSource: 'path' })
})
