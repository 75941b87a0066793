import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { placeClip } from '../core/metadata/helpers.ts'
import { bearer, viewerToken } from '../helpers/auth.ts'
import { startTestServer } from '../helpers/server.ts'
import type { TestServer } from '../helpers/server.ts'
import type { TestFn } from 'ava'

/*
 * Per-user library folders (issue 11, item 3) over real HTTP on a real server: an admin limits a viewer to two of the
 * library's folders; everything outside them is absent from every listing and answers 404 like an unknown id.
 */

interface Context { running: TestServer, library: string, ids: Record<string, string>, viewer: string, roots: Record<string, { rendition: string, directory: string }> }
const test = anyTest as TestFn<Context>

/** Titles come from the paths and the NFO files (no provider keys). `open2` shares a prefix with `open`, not a folder. */
const FILES: Record<string, string> = {
  alpha: 'open/Movies/Alpha (2001)/Alpha (2001).m4a',
  trailer: 'open/Movies/Alpha (2001)/trailers/Alpha trailer.m4a',
  gamma: 'open/Movies/Gamma (2003).m4a',
  pilot: 'TV/Show (2020)/Season 01/Show - S01E01.m4a',
  second: 'TV/Show (2020)/Season 01/Show - S01E02.m4a',
  beta: 'open2/Movies/Beta (2002)/Beta (2002).m4a',
  delta: 'open2/Movies/Delta (2004)/Delta (2004).m4a',
  season2: 'TV/Show (2020)/Season 02/Show - S02E01.m4a',
  other: 'open2/TV/Other (2021)/Season 01/Other - S01E01.m4a'
}
const VISIBLE = ['alpha', 'trailer', 'gamma', 'pilot', 'second']
const HIDDEN = ['beta', 'delta', 'season2', 'other']
/** Movies in collections, by their NFO's `<set>`. */
const SETS: Record<string, string> = { alpha: 'Saga', beta: 'Saga', delta: 'Secret Saga' }

test.before(async t => {
  // viewers may order replication here: their orders must not reach hidden media either
  const running = await startTestServer({ metadata: { keys: {}, fetchImages: false }, viewerReplication: true })
  t.context.running = running
  const { server } = running
  const library = join(running.dir, 'library')
  const clip = await fixture('audio-only-8s')
  // renditions of the same sound are the same bytes, with one root for both: beta, whose root is streamed, has a picture
  const video = await fixture('odd-854x480-6s')
  const ids: Record<string, string> = {}
  for (const [name, path] of Object.entries(FILES)) {
    const file = await placeClip(name === 'beta' ? video : clip, join(library, path))
    const set = SETS[name]
    if (set != null) await writeFile(file.replace(/\.m4a$/, '.nfo'), `<movie><title>${name[0].toUpperCase()}${name.slice(1)}</title><set><name>${set}</name></set></movie>`)
    ids[name] = (await server.addMedia(file)).id
  }
  await server.metadata.idle()
  // a finished rendition of one visible and one hidden media: their roots under /ipfs
  const roots: Context['roots'] = {}
  for (const name of ['alpha', 'beta']) {
    const profile = (await server.library.get(ids[name])).renditions[0].profile
    await server.transcoder.complete(await server.library.job(ids[name], profile))
    const view = await server.library.get(ids[name])
    const rendition = view.renditions.find(r => r.profile === profile)?.root
    if (rendition == null || view.root == null) throw new Error(`${name}'s rendition did not complete`)
    roots[name] = { rendition, directory: view.root }
  }
  const viewer = await viewerToken(server, 'limited')
  // watched while the viewer saw everything
  for (const name of ['beta', 'alpha', 'season2']) {
    const res = await fetch(`${server.url}/api/v1/media/${ids[name]}/progress`, { method: 'PUT', headers: { ...bearer(viewer), 'Content-Type': 'application/json' }, body: JSON.stringify({ positionSeconds: 3 }) })
    if (res.status !== 204) throw new Error(`progress of ${name}: ${res.status}`)
  }
  Object.assign(t.context, { library, ids, viewer, roots })
  await setFolders(t.context, [join(library, 'open'), join(library, 'TV/Show (2020)/Season 01/')])
})

test.after.always(async t => { await t.context.running?.stop() })

async function setFolders (context: Context, folders: string[] | null): Promise<void> {
  const res = await fetch(`${context.running.server.url}/api/v1/users/limited`, { method: 'PATCH', headers: { ...bearer(context.running.token), 'Content-Type': 'application/json' }, body: JSON.stringify({ folders }) })
  if (res.status !== 200) throw new Error(`PATCH folders answered ${res.status}: ${await res.text()}`)
}

async function get (t: { context: Context }, path: string, token: string): Promise<{ status: number, json: any }> {
  const res = await fetch(t.context.running.server.url + path, { headers: bearer(token) })
  const text = await res.text()
  return { status: res.status, json: res.headers.get('content-type')?.includes('json') === true ? JSON.parse(text) : text }
}

const asViewer = async (t: { context: Context }, path: string): Promise<{ status: number, json: any }> => await get(t, path, t.context.viewer)
const asAdmin = async (t: { context: Context }, path: string): Promise<{ status: number, json: any }> => await get(t, path, t.context.running.token)

function names (t: { context: Context }, ids: string[]): string[] {
  const byId = new Map(Object.entries(t.context.ids).map(([name, id]) => [id, name]))
  return ids.map(id => byId.get(id) ?? id).sort()
}

test.serial('a limited viewer\'s library lists, counts and pages only the media inside their folders', async t => {
  const all = await asViewer(t, '/api/v1/media')
  t.is(all.status, 200)
  t.deepEqual(names(t, all.json.items.map((m: { id: string }) => m.id)), [...VISIBLE].sort())
  t.is(all.json.total, VISIBLE.length)

  const paged: string[] = []
  for (let offset = 0; offset < VISIBLE.length + 2; offset += 2) {
    const page = await asViewer(t, `/api/v1/media?sort=title&limit=2&offset=${offset}`)
    t.is(page.json.total, VISIBLE.length, 'every page tells the same total')
    paged.push(...page.json.items.map((m: { id: string }) => m.id))
  }
  t.is(new Set(paged).size, VISIBLE.length, 'pages neither overlap nor skip')
  t.deepEqual(names(t, paged), [...VISIBLE].sort())
  t.like(await asViewer(t, '/api/v1/media?kind=movie&limit=0'), { json: { items: [], total: 2 } })
  t.like(await asViewer(t, '/api/v1/media?kind=episode'), { json: { total: 2 } })

  const admin = await asAdmin(t, '/api/v1/media')
  t.is(admin.json.total, VISIBLE.length + HIDDEN.length, 'an admin sees everything')
})

test.serial('a hidden media answers 404 on every route that names it, exactly as an unknown id does', async t => {
  const unknown = '0123456789abcdef'
  const routes = ['', '/progress', '/metadata', '/next', '/extras', '/locations']
  for (const name of HIDDEN) {
    const id = t.context.ids[name]
    for (const suffix of routes) {
      const hidden = await asViewer(t, `/api/v1/media/${id}${suffix}`)
      const absent = await asViewer(t, `/api/v1/media/${unknown}${suffix}`)
      t.is(hidden.status, 404, `${name}${suffix}`)
      t.deepEqual(hidden.json, { ...absent.json, message: absent.json.message.replace(unknown, id) }, `${name}${suffix}`)
      t.is((await asAdmin(t, `/api/v1/media/${id}${suffix}`)).status, 200, `an admin reads ${name}${suffix}`)
    }
  }
  // spelled another way, the router reads the same id
  t.is((await asViewer(t, `/API/v1/media/${t.context.ids.beta}/`)).status, 404)
  const put = await fetch(`${t.context.running.server.url}/api/v1/media/${t.context.ids.beta}/progress`, { method: 'PUT', headers: { ...bearer(t.context.viewer), 'Content-Type': 'application/json' }, body: JSON.stringify({ positionSeconds: 1 }) })
  t.is(put.status, 404)
  for (const name of VISIBLE) t.is((await asViewer(t, `/api/v1/media/${t.context.ids[name]}`)).status, 200, name)
})

test.serial('series, seasons, episodes, collections, next items and search show only what lies in the folders', async t => {
  const { ids } = t.context
  const series = await asViewer(t, '/api/v1/series')
  t.deepEqual(series.json.items.map((s: { title: string, episodeCount: number }) => [s.title, s.episodeCount]), [['Show', 2]])
  t.deepEqual((await asAdmin(t, '/api/v1/series')).json.items.map((s: { title: string, episodeCount: number }) => [s.title, s.episodeCount]), [['Other', 1], ['Show', 3]])
  const show = series.json.items[0].id
  const other = (await asAdmin(t, '/api/v1/series')).json.items[0].id
  t.deepEqual((await asViewer(t, `/api/v1/series/${show}/seasons`)).json.items.map((s: { number: number }) => s.number), [1])
  t.deepEqual(names(t, (await asViewer(t, `/api/v1/series/${show}/episodes`)).json.items.map((e: { id: string }) => e.id)), ['pilot', 'second'])
  t.is((await asViewer(t, `/api/v1/series/${show}/seasons/2`)).json.error, 'SeriesNotFoundError')
  t.is((await asViewer(t, `/api/v1/media/${ids.second}/next`)).json.next, null, 'the next episode is hidden')
  t.is((await asAdmin(t, `/api/v1/media/${ids.second}/next`)).json.next.id, ids.season2)
  // a series with nothing visible answers as one that does not exist
  for (const suffix of ['', '/seasons', '/episodes', '/seasons/1']) {
    const hidden = await asViewer(t, `/api/v1/series/${other}${suffix}`)
    const absent = await asViewer(t, `/api/v1/series/nope${suffix}`)
    t.is(hidden.status, 404, suffix)
    t.deepEqual(hidden.json, { ...absent.json, message: absent.json.message.replace('nope', other) }, suffix)
  }

  const collections = await asViewer(t, '/api/v1/collections')
  t.deepEqual(collections.json.items.map((c: { title: string, itemCount: number }) => [c.title, c.itemCount]), [['Saga', 1]])
  const saga = collections.json.items[0].id
  t.deepEqual((await asViewer(t, `/api/v1/collections/${saga}`)).json.items.map((m: { id: string }) => m.id), [ids.alpha])
  t.is((await asViewer(t, `/api/v1/media/${ids.alpha}/next`)).json.next, null, 'the next movie of the collection is hidden')
  t.is((await asAdmin(t, `/api/v1/media/${ids.alpha}/next`)).json.next.id, ids.beta)
  const secret = (await asAdmin(t, '/api/v1/collections')).json.items.find((c: { title: string }) => c.title === 'Secret Saga').id
  const hiddenCollection = await asViewer(t, `/api/v1/collections/${secret}`)
  t.is(hiddenCollection.status, 404)
  t.deepEqual(hiddenCollection.json, { error: 'CollectionNotFoundError', message: `no collection "${secret}"` })
  t.deepEqual(names(t, (await asViewer(t, `/api/v1/media/${ids.alpha}/extras`)).json.items.map((m: { id: string }) => m.id)), ['trailer'])

  const found = await asViewer(t, '/api/v1/search?q=a')
  t.deepEqual(names(t, found.json.media.map((m: { id: string }) => m.id)), ['alpha', 'gamma', 'trailer'])
  t.deepEqual(found.json.series, [])
  t.deepEqual(found.json.collections.map((c: { title: string, itemCount: number }) => [c.title, c.itemCount]), [['Saga', 1]])
  const all = await asAdmin(t, '/api/v1/search?q=a')
  t.deepEqual(names(t, all.json.media.map((m: { id: string }) => m.id)), ['alpha', 'beta', 'delta', 'gamma', 'trailer'])
  t.deepEqual(all.json.collections.map((c: { title: string }) => c.title), ['Saga', 'Secret Saga'])
  t.deepEqual((await asViewer(t, '/api/v1/search?q=other')).json, { media: [], series: [], collections: [] })
  t.deepEqual((await asAdmin(t, '/api/v1/search?q=other')).json.series.map((s: { title: string }) => s.title), ['Other'])
})

test.serial('continue watching lists only the visible media a viewer has progress in', async t => {
  const watching = await asViewer(t, '/api/v1/progress')
  t.deepEqual(watching.json.items.map((p: { mediaId: string }) => p.mediaId), [t.context.ids.alpha])
})

test.serial('a viewer\'s own token streams no hidden media: /media playlists and /ipfs roots answer 404', async t => {
  const { ids, roots } = t.context
  const hiddenMaster = await asViewer(t, `/media/${ids.beta}/master.m3u8`)
  const absentMaster = await asViewer(t, '/media/0123456789abcdef/master.m3u8')
  t.is(hiddenMaster.status, 404)
  t.deepEqual(hiddenMaster.json, { ...absentMaster.json, message: absentMaster.json.message.replace('0123456789abcdef', ids.beta) })
  const profile = (await asAdmin(t, `/api/v1/media/${ids.beta}`)).json.renditions[0].profile
  t.is((await asViewer(t, `/media/${ids.beta}/${profile}/index.m3u8`)).status, 404)
  t.is((await asViewer(t, `/media/${ids.beta}/${profile}/init.mp4`)).status, 404)
  t.is((await asAdmin(t, `/media/${ids.beta}/master.m3u8`)).status, 200)
  t.is((await asViewer(t, `/media/${ids.alpha}/master.m3u8`)).status, 200)

  for (const path of [`/ipfs/${roots.beta.rendition}/`, `/ipfs/${roots.beta.rendition}/index.m3u8`, `/ipfs/${roots.beta.directory}/master.m3u8`, `/ipfs/${roots.beta.rendition}?format=car`]) {
    const hidden = await asViewer(t, path)
    t.is(hidden.status, 404, path)
    t.is(hidden.json.error, 'ContentNotFoundError', path)
    t.is((await asAdmin(t, path)).status, 200, `an admin reads ${path}`)
  }
  for (const path of [`/ipfs/${roots.alpha.rendition}/index.m3u8`, `/ipfs/${roots.alpha.directory}/master.m3u8`]) t.is((await asViewer(t, path)).status, 200, path)
})

test.serial('replication listings and orders answer for a hidden media or root as for an unknown one', async t => {
  const { ids, roots } = t.context
  const unknown = '0123456789abcdef'
  const byMedia = await asViewer(t, `/api/v1/replications?media=${ids.beta}`)
  t.is(byMedia.status, 404)
  t.deepEqual(byMedia.json, { error: 'MediaNotFoundError', message: `no media ${ids.beta}` })
  t.deepEqual((await asViewer(t, `/api/v1/replications?media=${unknown}`)).json, { error: 'MediaNotFoundError', message: `no media ${unknown}` })
  t.like(await asViewer(t, `/api/v1/replications?cid=${roots.beta.rendition}`), { status: 200, json: { items: [], goals: [] } })
  t.is((await asViewer(t, `/api/v1/replications?media=${ids.alpha}`)).status, 200)
  t.is((await asAdmin(t, `/api/v1/replications?media=${ids.beta}`)).status, 200)

  // "Replicate here" for viewers: the order is refused before anything is placed, in the words for what is not there
  const { server } = t.context.running
  const order = async (body: unknown): Promise<{ status: number, json: any }> => {
    const res = await fetch(`${server.url}/api/v1/replications`, { method: 'POST', headers: { ...bearer(t.context.viewer), 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
    return { status: res.status, json: await res.json() }
  }
  const absent = await order({ media: unknown, node: 'nowhere' })
  t.deepEqual(await order({ media: ids.beta, node: 'nowhere' }), { ...absent, json: { ...absent.json, message: absent.json.message.replace(unknown, ids.beta) } })
  t.deepEqual(await order({ media: ids.beta }), await order({ media: unknown }), 'a malformed order fails alike either way')
  const byRoot = await order({ cid: roots.beta.rendition, node: 'nowhere' })
  t.deepEqual(byRoot, { status: 409, json: { error: 'NothingToReplicateError', message: `neither the main server nor any node holds ${roots.beta.rendition}` } })
  t.is((await order({ cid: roots.alpha.rendition, node: 'nowhere' })).json.error, 'NodeNotFoundError', 'a visible root goes on to the node')
})

test.serial('a change of folders applies to the viewer\'s next request, and an empty list hides everything', async t => {
  const { ids, library } = t.context
  try {
    await setFolders(t.context, null)
    t.is((await asViewer(t, '/api/v1/media')).json.total, VISIBLE.length + HIDDEN.length)
    t.is((await asViewer(t, `/api/v1/media/${ids.beta}`)).status, 200)
    t.is((await asViewer(t, '/api/v1/progress')).json.items.length, 3)

    await setFolders(t.context, [])
    t.like(await asViewer(t, '/api/v1/media'), { json: { items: [], total: 0 } })
    t.deepEqual((await asViewer(t, '/api/v1/series')).json.items, [])
    t.is((await asViewer(t, `/api/v1/media/${ids.alpha}`)).status, 404)

    // a folder covers what lies below it on a "/" boundary: `open2` is not inside `open`
    await setFolders(t.context, [join(library, 'open2')])
    t.deepEqual(names(t, (await asViewer(t, '/api/v1/media')).json.items.map((m: { id: string }) => m.id)), ['beta', 'delta', 'other'])
  } finally {
    await setFolders(t.context, [join(library, 'open'), join(library, 'TV/Show (2020)/Season 01')])
  }
  t.is((await asViewer(t, '/api/v1/media')).json.total, VISIBLE.length)
})
