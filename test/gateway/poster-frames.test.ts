import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { pngOf, startProviderStub } from '../../fixtures/providers/stub-server.ts'
import { startServer } from '../../node/server.ts'
import { placeClip, stubConfig } from '../core/metadata/helpers.ts'
import { adminFetch, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { jpegSize } from '../helpers/jpeg.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { ProviderStub } from '../../fixtures/providers/stub-server.ts'
import type { RunningServer, StartServerOptions } from '../../node/server.ts'
import type { TestFn } from 'ava'

interface Context {
  /** A holder: ava gives each test a shallow copy of the context, and restarts replace the server. */
  live: { server: RunningServer }
  options: StartServerOptions
  stub: ProviderStub
  ids: Record<string, string>
  nfo: string
  stop: () => Promise<void>
}
const test = anyTest as TestFn<Context>

const MATRIX = 'Movies/The Matrix (1999)/The Matrix (1999).mp4'

test.before(async t => {
  const parts: Array<() => Promise<void>> = []
  t.context.stop = async () => {
    await t.context.live?.server.stop()
    for (const stop of parts.toReversed()) await stop()
  }
  const dir = await tempDir('cidcast-frames-')
  parts.push(dir.remove)
  const stub = await startProviderStub()
  parts.push(stub.stop)
  // no provider key at all: the library works from paths, NFO files and the videos themselves
  const options: StartServerOptions = { dataDir: join(dir.path, 'data'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', metadata: { keys: {} }, accounts: TEST_ACCOUNTS }
  const server = await startServer(options)
  t.context.live = { server }
  const library = join(dir.path, 'library')
  const files = {
    matrix: await placeClip(await fixture('h264-aac-10s'), join(library, MATRIX)),
    portrait: await placeClip(await fixture('portrait-6s'), join(library, 'Home videos/upright.mp4')),
    episode: await placeClip(await fixture('odd-854x480-6s'), join(library, 'TV/Some Show/Season 01/Some Show - S01E01.mp4')),
    audio: await placeClip(await fixture('audio-only-8s'), join(library, 'Music/beeps.m4a'))
  }
  // an NFO without artwork describes the movie first; it outranks the providers that come later
  const nfo = join(library, 'Movies/The Matrix (1999)/The Matrix (1999).nfo')
  await writeFile(nfo, '<movie><title>The Matrix</title><year>1999</year><uniqueid type="tmdb">603</uniqueid></movie>')
  const ids: Record<string, string> = {}
  for (const [name, path] of Object.entries(files)) {
    const res = await adminFetch(server, '/api/v1/media', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ path }) })
    ids[name] = ((await res.json()) as { id: string }).id
  }
  await server.metadata.idle()
  Object.assign(t.context, { options, stub, ids, nfo })
})

test.after.always(async t => { await t.context.stop?.() })

interface ImageRef { cid: string, url: string }

/** An API call as the running server's admin. */
async function json<T> (t: { context: Context }, path: string, init?: RequestInit): Promise<T> {
  const res = await adminFetch(t.context.live.server, path, init)
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return await res.json() as T
}

async function imagesOf (t: { context: Context }, name: string): Promise<{ poster: ImageRef | null, still: ImageRef | null }> {
  return (await json<{ images: { poster: ImageRef | null, still: ImageRef | null } }>(t, `/api/v1/media/${t.context.ids[name]}`)).images
}

async function posterOf (t: { context: Context }, name: string): Promise<ImageRef | null> {
  return (await imagesOf(t, name)).poster
}

/** ffmpeg runs that gave a frame in the running server, from its /metrics. */
async function framesTaken (t: { context: Context }): Promise<number> {
  const text = await (await fetch(`${t.context.live.server.url}/metrics`)).text()
  return Number(/^cidcast_poster_frames_total (\d+)$/m.exec(text)?.[1])
}

async function restart (t: { context: Context }, metadata: StartServerOptions['metadata']): Promise<void> {
  await t.context.live.server.stop()
  t.context.live.server = await startServer({ ...t.context.options, metadata })
  await t.context.live.server.metadata.idle()
}

test.serial('a video added without provider keys gets a poster (an episode: a still): a JPEG frame of its shape, served by /ipfs', async t => {
  for (const [name, size] of [['matrix', { width: 480, height: 270 }], ['portrait', { width: 480, height: 854 }]] as const) {
    const poster = await posterOf(t, name)
    if (poster == null) return t.fail(`${name} has no poster`)
    t.is(poster.url, `/api/v1/images/${poster.cid}`)
    const res = await adminFetch(t.context.live.server, poster.url)
    t.is(res.status, 200)
    t.is(res.headers.get('content-type'), 'image/jpeg')
    t.deepEqual(jpegSize(new Uint8Array(await res.arrayBuffer())), size, name)
  }
  const history = await json<{ items: Array<{ actor: string, changes: Record<string, unknown> }> }>(t, `/api/v1/media/${t.context.ids.portrait}/metadata/history`)
  t.deepEqual(history.items.map(e => [e.actor, Object.keys(e.changes)]).at(-1), ['frame', ['poster']], 'the audit trail says where the poster came from')

  const episode = await imagesOf(t, 'episode')
  t.is(episode.poster, null)
  if (episode.still == null) return t.fail('the episode has no still')
  t.deepEqual(jpegSize(new Uint8Array(await (await adminFetch(t.context.live.server, episode.still.url)).arrayBuffer())), { width: 480, height: 270 })
  t.is(await framesTaken(t), 3)
})

test.serial('audio-only media get no poster frame', async t => {
  t.is(await posterOf(t, 'audio'), null)
  t.is(await framesTaken(t), 3, 'no frame was made for it')
})

test.serial('the frame is taken once: identifying again and restarting find it instead of running ffmpeg', async t => {
  const before = await posterOf(t, 'portrait')
  await json(t, `/api/v1/media/${t.context.ids.portrait}/identify`, { method: 'POST' })
  await t.context.live.server.metadata.idle()
  t.deepEqual(await posterOf(t, 'portrait'), before)
  t.is(await framesTaken(t), 3)

  // undone by hand, the poster is gone until the start-up pass finds the frame taken before
  const history = await json<{ items: Array<{ id: number, actor: string }> }>(t, `/api/v1/media/${t.context.ids.portrait}/metadata/history`)
  const entry = history.items.find(e => e.actor === 'frame')
  await json(t, `/api/v1/media/${t.context.ids.portrait}/metadata/history/${entry?.id ?? 0}/revert`, { method: 'POST' })
  t.is(await posterOf(t, 'portrait'), null)
  await restart(t, { keys: {} })
  t.deepEqual(await posterOf(t, 'portrait'), before)
  t.is(await framesTaken(t), 0, 'the restarted server ran no ffmpeg for it')
})

test.serial('a provider poster replaces the frame, even where the provider ranks below what described the media before', async t => {
  const frame = await posterOf(t, 'matrix')
  await restart(t, stubConfig(t.context.stub))
  // without its NFO the movie is described by a weaker source than before, which only fills empty fields
  await rm(t.context.nfo)
  const result = await json<{ metadata: { metadataSource: string, images: { poster: ImageRef | null } } }>(t, `/api/v1/media/${t.context.ids.matrix}/identify`, { method: 'POST' })
  t.is(result.metadata.metadataSource, 'nfo', 'the NFO still ranks first')
  const poster = result.metadata.images.poster
  if (poster == null) return t.fail('no poster')
  t.not(poster.cid, frame?.cid)
  const bytes = Buffer.from(await (await adminFetch(t.context.live.server, poster.url)).arrayBuffer())
  t.deepEqual(bytes, pngOf('/tmdb-images/t/p/w500/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg'))
  await t.context.live.server.metadata.idle()
  t.is((await posterOf(t, 'matrix'))?.cid, poster.cid, 'the frame did not come back')
  t.is(await framesTaken(t), 0)
})
