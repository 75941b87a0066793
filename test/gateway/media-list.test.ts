import { join } from 'node:path'
import anyTest from 'ava'
import { createApiClient } from '../../client/api-client.ts'
import { fixture } from '../../fixtures/media.ts'
import { startServer } from '../../node/server.ts'
import { placeClip } from '../core/metadata/helpers.ts'
import { adminToken, bearer, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { serverDatabase } from '../helpers/database.ts'
import { cidcast } from '../helpers/spawn.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { RunningServer } from '../../node/server.ts'
import type { TestFn } from 'ava'

interface Context { server: RunningServer, token: string, ids: Record<string, string>, stop: () => Promise<void> }
const test = anyTest as TestFn<Context>

/** Added in this order; titles, years and kinds come from the paths alone (no provider keys). */
const FILES: Record<string, string> = {
  movie2: 'Movies/Movie 2 (1952).m4a',
  movie10: 'Movies/Movie 10 (1960).m4a',
  matrix: 'Movies/The Matrix (1999)/The Matrix (1999).m4a',
  movie1: 'Movies/Movie 1 (1951).m4a',
  zulu: 'Movies/Zulu.m4a',
  alien: 'Movies/Alien (1979)/Alien (1979).m4a',
  movie9: 'Movies/Movie 9 (1959).m4a',
  trailer: 'Movies/Alien (1979)/trailers/Alien trailer.m4a',
  pilot: 'TV/Show (2020)/Season 01/Show - S01E01.m4a',
  second: 'TV/Show (2020)/Season 01/Show - S01E02.m4a'
}
const BY_TITLE = ['Alien', 'The Matrix', 'Movie 1', 'Movie 2', 'Movie 9', 'Movie 10', 'Zulu']

interface Listed { items: Array<{ id: string, title: string, year: number | null, kind: string }>, total: number, limit: number, offset: number, sort: string, order: string, kind: string | null }

test.before(async t => {
  const parts: Array<() => Promise<void>> = []
  t.context.stop = async () => { for (const stop of parts.toReversed()) await stop() }
  const dir = await tempDir('cidcast-gw-media-list-')
  parts.push(dir.remove)
  const server = await startServer({ dataDir: join(dir.path, 'data'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', metadata: { keys: {}, fetchImages: false }, accounts: TEST_ACCOUNTS, ...await serverDatabase() })
  parts.push(server.stop)
  // the admin's: titles are edited below (also carried by `cidcast()` runs pointed at this server)
  const token = await adminToken(server)
  const clip = await fixture('audio-only-8s')
  const ids: Record<string, string> = {}
  for (const [name, path] of Object.entries(FILES)) ids[name] = (await server.addMedia(await placeClip(clip, join(dir.path, 'library', path)))).id
  await server.metadata.idle()
  Object.assign(t.context, { server, token, ids })
})

test.after.always(async t => { await t.context.stop?.() })

async function list (t: { context: Context }, query: string): Promise<{ status: number, json: any }> {
  const res = await fetch(`${t.context.server.url}/api/v1/media${query}`, { headers: bearer(t.context.token) })
  return { status: res.status, json: await res.json() }
}

/** Every page of a listing, `limit` at a time; checks that each page tells the same total. */
async function pages (t: { context: Context }, query: string, limit: number): Promise<{ titles: string[], totals: number[] }> {
  const titles: string[] = []
  const totals: number[] = []
  for (let offset = 0; offset === 0 || offset < totals[0]; offset += limit) {
    const { status, json } = await list(t, `${query}&limit=${limit}&offset=${offset}`)
    if (status !== 200) throw new Error(`page at ${offset} answered ${status}: ${JSON.stringify(json)}`)
    const page = json as Listed
    titles.push(...page.items.map(m => m.title))
    totals.push(page.total)
  }
  return { titles, totals }
}

test.serial('without parameters the list is every media, newest first, with the total', async t => {
  const { status, json } = await list(t, '')
  t.is(status, 200)
  const page = json as Listed
  t.is(page.total, 10)
  t.deepEqual(page.items.map(m => m.id), Object.values(t.context.ids).toReversed())
  t.like(page, { limit: 100, offset: 0, sort: 'added', order: 'desc', kind: null })
})

test.serial('pages of movies by title follow natural order over the whole library, each telling the total', async t => {
  const asc = await pages(t, '?kind=movie&sort=title', 3)
  t.deepEqual(asc.titles, BY_TITLE)
  t.deepEqual(asc.totals, [7, 7, 7])
  const desc = await pages(t, '?kind=movie&sort=title&order=desc', 3)
  t.deepEqual(desc.titles, BY_TITLE.toReversed())
  const beyond = (await list(t, '?kind=movie&sort=title&offset=50')).json as Listed
  t.deepEqual(beyond.items, [])
  t.is(beyond.total, 7, 'a page past the end still tells the total')
  const counted = (await list(t, '?kind=movie&limit=0')).json as Listed
  t.deepEqual(counted.items, [])
  t.is(counted.total, 7, 'limit=0 only counts')
})

test.serial('year order puts the newest first by default and unknown years last either way', async t => {
  t.deepEqual((await pages(t, '?kind=movie&sort=year', 4)).titles, ['The Matrix', 'Alien', 'Movie 10', 'Movie 9', 'Movie 2', 'Movie 1', 'Zulu'])
  t.deepEqual((await pages(t, '?kind=movie&sort=year&order=asc', 4)).titles, ['Movie 1', 'Movie 2', 'Movie 9', 'Movie 10', 'Alien', 'The Matrix', 'Zulu'])
})

test.serial('date-added order follows the adds in both directions', async t => {
  const movies = ['movie2', 'movie10', 'matrix', 'movie1', 'zulu', 'alien', 'movie9'].map(name => t.context.ids[name])
  const ids = async (query: string): Promise<string[]> => ((await list(t, query)).json as Listed).items.map(m => m.id)
  t.deepEqual(await ids('?kind=movie&sort=added&order=asc'), movies)
  t.deepEqual(await ids('?kind=movie&sort=added'), movies.toReversed())
})

test.serial('kind picks movies, episodes, extras, or other: what neither the movie grid nor a series reaches', async t => {
  const titles = async (kind: string): Promise<{ titles: string[], total: number }> => {
    const page = (await list(t, `?kind=${kind}&sort=title`)).json as Listed
    return { titles: page.items.map(m => m.title), total: page.total }
  }
  t.is((await titles('movie')).total, 7)
  t.is((await titles('episode')).total, 2)
  t.deepEqual(await titles('extra'), { titles: ['Alien trailer'], total: 1 })
  t.deepEqual(await titles('other'), { titles: ['Alien trailer'], total: 1 })

  // an episode whose season is cleared is on no season page: it joins the other videos, and leaves when it has one again
  const id = t.context.ids.second
  const cleared = await fetch(`${t.context.server.url}/api/v1/media/${id}/metadata`, { method: 'PATCH', headers: { 'Content-Type': 'application/json', ...bearer(t.context.token) }, body: JSON.stringify({ season: null }) })
  t.is(cleared.status, 200)
  const other = (await list(t, '?kind=other&sort=title')).json as Listed
  t.deepEqual(other.items.map(m => m.id).toSorted(), [id, t.context.ids.trailer].toSorted())
  t.is(other.total, 2)
  await fetch(`${t.context.server.url}/api/v1/media/${id}/metadata`, { method: 'PATCH', headers: { 'Content-Type': 'application/json', ...bearer(t.context.token) }, body: JSON.stringify({ season: 1 }) })
  t.is(((await list(t, '?kind=other')).json as Listed).total, 1)
})

test.serial('bad list parameters get a 400 naming the parameter', async t => {
  const cases: Array<[string, RegExp]> = [
    ['?sort=name', /^sort must be one of title, year, added$/],
    ['?order=up', /^order must be one of asc, desc$/],
    ['?kind=show', /^kind must be one of movie, episode, extra, other$/],
    ['?sort=title&sort=year', /^sort must be/],
    ['?limit=-1', /^limit must be an integer from 0 to 1000$/],
    ['?limit=1001', /^limit must be/],
    ['?limit=ten', /^limit must be/],
    ['?offset=1.5', /^offset must be an integer/]
  ]
  for (const [query, message] of cases) {
    const { status, json } = await list(t, query)
    t.is(status, 400, query)
    t.is(json.error, 'InvalidRequestError', query)
    t.regex(json.message, message, query)
  }
})

test.serial('the typed client and cidcast ls list every media, page after page, in the order asked', async t => {
  const client = createApiClient(t.context.server.url, { token: t.context.token })
  t.deepEqual((await client.listMedia({ kind: 'movie', sort: 'title' }, { pageSize: 2 })).map(m => m.title), BY_TITLE)
  t.is((await client.listMedia()).length, 10)
  const ls = await cidcast('ls', '--server', t.context.server.url, '--sort', 'title', '--kind', 'movie')
  t.is(ls.code, 0, ls.stderr)
  t.deepEqual(ls.stdout.trim().split('\n').map(line => JSON.parse(line.split('\t')[3]) as string), BY_TITLE)
  const bad = await cidcast('ls', '--server', t.context.server.url, '--sort', 'name')
  t.is(bad.code, 1)
  t.regex(bad.stderr, /--sort <key>' argument 'name' is invalid/)
})

test.serial('a title or sort title edited through the API moves the media in title order', async t => {
  const edit = async (name: string, patch: object): Promise<void> => {
    const res = await fetch(`${t.context.server.url}/api/v1/media/${t.context.ids[name]}/metadata`, { method: 'PATCH', headers: { 'Content-Type': 'application/json', ...bearer(t.context.token) }, body: JSON.stringify(patch) })
    t.is(res.status, 200, await res.text())
  }
  await edit('zulu', { title: 'The Abyss' })
  await edit('alien', { sortTitle: 'Zz Alien' })
  t.deepEqual((await pages(t, '?kind=movie&sort=title', 3)).titles, ['The Abyss', 'The Matrix', 'Movie 1', 'Movie 2', 'Movie 9', 'Movie 10', 'Alien'])
  await edit('alien', { sortTitle: null })
  t.is(((await list(t, '?kind=movie&sort=title&limit=2')).json as Listed).items[1].title, 'Alien', 'a cleared sort title sorts by the title again')
})
