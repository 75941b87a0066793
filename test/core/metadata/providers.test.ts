import anyTest from 'ava'
import { STUB_KEYS, startProviderStub } from '../../../fixtures/providers/stub-server.ts'
import { silentLogger } from '../../../core/logger.ts'
import { ProviderError } from '../../../core/metadata/errors.ts'
import { createProviderHttp, retryAfterMs } from '../../../core/metadata/provider-http.ts'
import { createOmdbProvider, omdbDate } from '../../../core/metadata/providers/omdb.ts'
import { createTmdbProvider } from '../../../core/metadata/providers/tmdb.ts'
import { createTvdbProvider } from '../../../core/metadata/providers/tvdb.ts'
import type { ProviderStub } from '../../../fixtures/providers/stub-server.ts'
import type { TestFn } from 'ava'

const test = anyTest as TestFn<{ stub: ProviderStub }>
const logger = silentLogger()
/** Fast retries, so fault tests take milliseconds (Retry-After is still honoured as sent). */
const FAST = { backoffMs: 10, timeoutMs: 2000 }

test.beforeEach(async t => { t.context.stub = await startProviderStub() })
test.afterEach.always(async t => { await t.context.stub.stop() })

function tmdb (stub: ProviderStub, key: string = STUB_KEYS.tmdb): ReturnType<typeof createTmdbProvider> {
  return createTmdbProvider({ logger }, { key, baseUrl: stub.tmdbUrl, imageBaseUrl: stub.tmdbImageUrl, http: FAST })
}

test('TMDB searches movies and shows and describes a movie with its ids and collection', async t => {
  const { stub } = t.context
  const provider = tmdb(stub)
  const matches = await provider.searchMovies('The Matrix', 1999)
  t.deepEqual(matches.map(m => [m.id, m.title, m.year]), [['603', 'The Matrix', 1999], ['604', 'The Matrix Reloaded', 2003], ['605', 'The Matrix Revolutions', 2003]])
  t.is(matches[0].posterUrl, `${stub.tmdbImageUrl}/w342/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg`)
  const search = stub.requests.find(r => r.path === '/tmdb/3/search/movie')
  t.is(search?.query.get('query'), 'The Matrix')
  t.is(search?.query.get('year'), '1999')

  const movie = await provider.movie({ tmdb: 603 })
  t.like(movie, {
    kind: 'movie',
    title: 'The Matrix',
    year: 1999,
    releaseDate: '1999-03-30',
    tagline: 'Welcome to the Real World.',
    ids: { tmdb: 603, imdb: 'tt0133093' },
    posterUrl: `${stub.tmdbImageUrl}/w500/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg`,
    collection: { title: 'The Matrix Collection', ids: { tmdb: 2344 } }
  })
  t.like(await provider.collection?.({ tmdb: 2344 }), { title: 'The Matrix Collection', ids: { tmdb: 2344 } })
  t.deepEqual((await provider.searchSeries('Breaking Bad')).map(m => [m.kind, m.id, m.year]), [['series', '1396', 2008]])
  t.deepEqual(await provider.searchMovies('no such film'), [])
})

test('TMDB finds a movie by its IMDb id and a show by its TVDB id, and an episode of it', async t => {
  const provider = tmdb(t.context.stub)
  t.like(await provider.movie({ imdb: 'tt0133093' }), { ids: { tmdb: 603 } })
  t.is(await provider.movie({ imdb: 'tt9999999' }), undefined)
  const series = await provider.series({ tvdb: 81189 })
  t.like(series, { title: 'Breaking Bad', year: 2008, ids: { tmdb: 1396, imdb: 'tt0903747', tvdb: 81189 } })
  t.deepEqual(series?.seasons?.map(s => [s.number, s.title]), [[0, 'Specials'], [1, 'Season 1'], [2, 'Season 2']])
  t.like(await provider.episode({ tmdb: 1396 }, 1, 2), { kind: 'episode', title: 'Cat\'s in the Bag...', season: 1, episode: 2, releaseDate: '2008-01-27', ids: { tmdb: 62086, imdb: 'tt1054724', tvdb: 349233 } })
  t.is(await provider.episode({ tmdb: 1396 }, 9, 9), undefined)
})

test('TMDB sends a v4 token as a bearer header and never in the URL', async t => {
  const { stub } = t.context
  const provider = createTmdbProvider({ logger }, { key: 'eyJhbGciOiJIUzI1NiJ9.e30.x', baseUrl: stub.tmdbUrl, http: FAST })
  await t.throwsAsync(provider.movie({ tmdb: 603 }), { instanceOf: ProviderError, message: /HTTP 401: Invalid API key/ })
  t.is(stub.requests[0].authorization, 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.x')
  t.false(stub.requests[0].query.has('api_key'))
})

test('a wrong key is reported once, without retries and without the key in the message', async t => {
  const { stub } = t.context
  const err = await t.throwsAsync(tmdb(stub, 'wrong-key').searchMovies('The Matrix'), { instanceOf: ProviderError })
  t.false(err?.message.includes('wrong-key'))
  t.is(stub.requests.length, 1)
})

test('TVDB logs in once, searches, describes a series with its official seasons and an episode', async t => {
  const { stub } = t.context
  const provider = createTvdbProvider({ logger }, { key: STUB_KEYS.tvdb, baseUrl: stub.tvdbUrl, http: FAST })
  const matches = await provider.searchSeries('Breaking Bad', 2008)
  t.like(matches[0], { provider: 'tvdb', kind: 'series', id: '81189', title: 'Breaking Bad', year: 2008, ids: { tvdb: 81189, imdb: 'tt0903747', tmdb: 1396 } })
  const series = await provider.series({ imdb: 'tt0903747' })
  t.like(series, { title: 'Breaking Bad', year: 2008, ids: { tvdb: 81189, imdb: 'tt0903747', tmdb: 1396 }, posterUrl: `${stub.url}/tvdb-art/banners/posters/81189-10.jpg` })
  t.regex(series?.overview ?? '', /^Walter White/)
  t.deepEqual(series?.seasons?.map(s => s.number), [0, 1, 2])
  t.like(await provider.episode({ tvdb: 81189 }, 1, 3), { title: '...And the Bag\'s in the River', ids: { tvdb: 349235 }, season: 1, episode: 3 })
  t.is(await provider.episode({ tvdb: 81189 }, 7, 1), undefined)
  t.is(stub.requests.filter(r => r.path === '/tvdb/v4/login').length, 1)
})

test('TVDB logs in again when its token expires', async t => {
  const { stub } = t.context
  const provider = createTvdbProvider({ logger }, { key: STUB_KEYS.tvdb, baseUrl: stub.tvdbUrl, http: FAST })
  await provider.searchSeries('Breaking Bad')
  stub.fault('/tvdb/v4/series/', { status: 401, body: '{"status":"failure","message":"Unauthorized"}' })
  t.like(await provider.series({ tvdb: 81189 }), { title: 'Breaking Bad' })
  t.is(stub.requests.filter(r => r.path === '/tvdb/v4/login').length, 2)
})

test('OMDb looks up movies, series and episodes by IMDb id; "N/A" is no value', async t => {
  const { stub } = t.context
  const provider = createOmdbProvider({ logger }, { key: STUB_KEYS.omdb, baseUrl: stub.omdbUrl, http: FAST })
  t.like(await provider.movie({ imdb: 'tt0133093' }), { title: 'The Matrix', year: 1999, releaseDate: '1999-03-31', ids: { imdb: 'tt0133093' } })
  t.is(await provider.movie({ tmdb: 603 }), undefined, 'OMDb needs an IMDb id')
  t.is(await provider.movie({ imdb: 'tt0000001' }), undefined)
  t.like(await provider.series({ imdb: 'tt0903747' }), { title: 'Breaking Bad', year: 2008 })
  t.like(await provider.episode({ imdb: 'tt0903747' }, 1, 1), { title: 'Pilot', ids: { imdb: 'tt0959621' }, season: 1, episode: 1 })
  const found = await provider.searchMovies('The Matrix')
  t.deepEqual(found.map(m => [m.id, m.year, m.posterUrl == null]), [['tt0133093', 1999, false], ['tt0234215', 2003, true]])
  t.is(omdbDate('31 Mar 1999'), '1999-03-31')
  t.is(omdbDate('N/A'), undefined)
  await t.throwsAsync(createOmdbProvider({ logger }, { key: 'bad', baseUrl: stub.omdbUrl, http: FAST }).movie({ imdb: 'tt0133093' }), { instanceOf: ProviderError, message: /Invalid API key/ })
})

test('a 429 is retried after the Retry-After the provider sent', async t => {
  const { stub } = t.context
  stub.fault('/tmdb/3/movie/', { status: 429, retryAfter: '1', body: '{"status_code":25,"status_message":"Your request count (41) is over the allowed limit of 40."}' })
  const started = Date.now()
  t.like(await tmdb(stub).movie({ tmdb: 603 }), { title: 'The Matrix' })
  const [first, second] = stub.requests.filter(r => r.path === '/tmdb/3/movie/603')
  t.true(second.at - first.at >= 950, `waited ${second.at - first.at} ms`)
  t.log(`429 then success after ${Date.now() - started} ms`)
})

test('a Retry-After longer than the cap gives up at once', async t => {
  const { stub } = t.context
  stub.fault('/tmdb/3/movie/', { status: 429, retryAfter: '3600' })
  await t.throwsAsync(tmdb(stub).movie({ tmdb: 603 }), { instanceOf: ProviderError, message: /Retry-After 3600 s/ })
  t.is(stub.requests.length, 1)
})

test('5xx and dropped answers are retried with backoff, then reported', async t => {
  const { stub } = t.context
  stub.fault('/tmdb/3/movie/', { status: 503 }, 2)
  t.like(await tmdb(stub).movie({ tmdb: 603 }), { title: 'The Matrix' })
  t.is(stub.requests.length, 3)
  stub.fault('/tmdb/3/tv/', { status: 500 }, 10)
  await t.throwsAsync(tmdb(stub).series({ tmdb: 1396 }), { instanceOf: ProviderError, message: /HTTP 500/ })
  t.is(stub.requests.filter(r => r.path === '/tmdb/3/tv/1396').length, 4, 'one try and three retries')
})

test('a slow answer ends at the deadline; huge, non-JSON and non-object answers are refused', async t => {
  const { stub } = t.context
  const provider = createTmdbProvider({ logger }, { key: STUB_KEYS.tmdb, baseUrl: stub.tmdbUrl, http: { timeoutMs: 300, retries: 1, backoffMs: 10, maxBytes: 1 << 20 } })
  stub.fault('/tmdb/3/movie/', { kind: 'slow' }, 2)
  const started = Date.now()
  await t.throwsAsync(provider.movie({ tmdb: 603 }), { instanceOf: ProviderError, message: /no answer within 300 ms/ })
  // a behaviour: two tries of 300 ms ended it (the stub never finishes), with a fivefold margin for a busy machine
  t.true(Date.now() - started < 3000)
  stub.fault('/tmdb/3/movie/', { kind: 'huge', bytes: 8 << 20 })
  await t.throwsAsync(provider.movie({ tmdb: 604 }), { instanceOf: ProviderError, message: /limit/ })
  stub.fault('/tmdb/3/movie/', { kind: 'not-json' })
  await t.throwsAsync(provider.movie({ tmdb: 605 }), { instanceOf: ProviderError, message: /not JSON/ })
  stub.fault('/tmdb/3/search/', { kind: 'array' })
  await t.throwsAsync(provider.searchMovies('x'), { instanceOf: ProviderError, message: /not a JSON object/ })
})

test('a garbage answer gives no matches instead of garbage', async t => {
  const { stub } = t.context
  stub.fault('/tmdb/3/search/', { kind: 'garbage' })
  t.deepEqual(await tmdb(stub).searchMovies('The Matrix'), [])
})

test('answers are cached: the same question asked twice is sent once', async t => {
  const { stub } = t.context
  const provider = tmdb(stub)
  await Promise.all([provider.movie({ tmdb: 603 }), provider.movie({ tmdb: 603 })])
  await provider.movie({ tmdb: 603 })
  t.is(stub.requests.filter(r => r.path === '/tmdb/3/movie/603').length, 1)
  await provider.movie({ tmdb: 999 })
  await provider.movie({ tmdb: 999 })
  t.is(stub.requests.filter(r => r.path === '/tmdb/3/movie/999').length, 1, 'a 404 is cached too')
})

test('Retry-After reads seconds and HTTP dates', t => {
  t.is(retryAfterMs('2'), 2000)
  t.is(retryAfterMs(new Date(10_000).toUTCString(), 4000), 6000)
  t.is(retryAfterMs('soon'), undefined)
  t.is(retryAfterMs(null), undefined)
})

test('the HTTP client can be cleared', async t => {
  const { stub } = t.context
  const http = createProviderHttp({ logger }, 'test', FAST)
  const url = new URL(`${stub.omdbUrl}?apikey=${STUB_KEYS.omdb}&i=tt0133093`)
  await http.json(url)
  http.clear()
  await http.json(url)
  t.is(stub.requests.length, 2)
})
