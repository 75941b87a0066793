import { execFile } from 'node:child_process'
import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import anyTest from 'ava'
import { resolveFfmpeg } from '../../core/media/ffmpeg-binary.ts'
import { fixture, writeClip } from '../../fixtures/media.ts'
import { startServer } from '../../node/server.ts'
import { bearer, viewerToken } from '../helpers/auth.ts'
import { startTestServer } from '../helpers/server.ts'
import { verifiedFetchVia } from '../helpers/verified-fetch.ts'
import type { RunningServer } from '../../node/server.ts'
import type { TestServer } from '../helpers/server.ts'
import type { TestFn } from 'ava'

const run = promisify(execFile)
const test = anyTest as TestFn<TestServer>

test.before(async t => {
  t.context = await startTestServer()
})

test.after.always(async t => {
  await t.context.stop?.()
})

/** A call with `token` (by default the server's admin's; null: none). */
async function api (t: { context: TestServer }, method: string, path: string, body?: unknown, token: string | null = t.context.token): Promise<{ status: number, json: any }> {
  const response = await fetch(t.context.server.url + path, {
    method,
    headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...token == null ? {} : bearer(token) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  })
  const text = await response.text()
  return { status: response.status, json: text === '' ? undefined : JSON.parse(text) }
}

/** A GET of the server's content (`/media`, `/ipfs`) as its signed-in admin: nobody reads it without a credential. */
async function get (t: { context: TestServer }, path: string): Promise<Response> {
  return await fetch(t.context.server.url + path, { headers: bearer(t.context.token) })
}

async function sessionsStarted (server: RunningServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text()
  const line = text.split('\n').find(l => l.startsWith('cidcast_ffmpeg_sessions_started_total '))
  return Number(line?.split(' ')[1])
}

test.serial('adding the same bytes twice gives the same media', async t => {
  const path = await fixture('odd-854x480-6s')
  const copy = join(t.context.dir, 'copy of it.mp4')
  await copyFile(path, copy)
  const first = await api(t, 'POST', '/api/v1/media', { path })
  const second = await api(t, 'POST', '/api/v1/media', { path: copy })
  t.true(first.status === 201 || first.status === 200)
  t.is(second.status, 200)
  t.is(second.json.id, first.json.id)
  t.false(second.json.created)
  const list = await api(t, 'GET', '/api/v1/media')
  t.is(list.json.items.filter((m: { id: string }) => m.id === first.json.id).length, 1)
  t.deepEqual(first.json.renditions.map((r: { profile: string }) => r.profile), ['480p', '360p'])
})

test.serial('a path that is not usable media gets one 422 and one message, whether it exists or not, and leaves no media record', async t => {
  const before = (await api(t, 'GET', '/api/v1/media')).json.items.length
  const dir = join(t.context.dir, 'bad')
  await mkdir(dir, { recursive: true })
  const shadow = join(dir, 'shadow.mp4')
  await symlink('/etc/shadow', shadow)
  const text = join(dir, 'notes.mkv')
  await writeFile(text, 'x'.repeat(100_000))
  const fifo = join(dir, 'fifo.mp4')
  await run('mkfifo', [fifo])
  const socketPath = join(dir, 'socket.mp4')
  const socket = createServer()
  await new Promise<void>(resolve => socket.listen(socketPath, resolve))
  t.teardown(() => { socket.close() })
  const unusable = [
    await fixture('zero-bytes.mp4'),
    await fixture('not-media.mp4'),
    await fixture('truncated.mp4'),
    await fixture('image.png'),
    join(dir, 'missing.mp4'),
    join(dir, 'missing', 'deeper.mp4'),
    dir,
    shadow,
    text,
    '/dev/null',
    '/dev/zero',
    fifo,
    socketPath
  ]
  for (const path of unusable) {
    const res = await api(t, 'POST', '/api/v1/media', { path })
    t.is(res.status, 422, path)
    t.deepEqual(res.json, { error: 'InvalidMediaError', message: 'not a usable media file' }, path)
  }
  const relative = await api(t, 'POST', '/api/v1/media', { path: 'relative/path.mp4' })
  t.is(relative.status, 400)
  t.is(relative.json.error, 'InvalidPathError')
  for (const body of ['{not json', JSON.stringify({ path: 42 }), JSON.stringify([])]) {
    const res = await api(t, 'POST', '/api/v1/media', body)
    t.is(res.status, 400, body)
    t.is(typeof res.json.error, 'string')
  }
  t.is((await api(t, 'GET', '/api/v1/media')).json.items.length, before)
})

test.serial('sources that make ffmpeg read other files (ffconcat, an HLS playlist, an image2 pattern) are refused and leave no media record', async t => {
  const before = (await api(t, 'GET', '/api/v1/media')).json.items.length
  const dir = join(t.context.dir, 'demuxers')
  await mkdir(dir, { recursive: true })
  // each names a real, playable file next to it: only the container decides
  await symlink(await fixture('odd-854x480-6s'), join(dir, 'good.mp4'))
  const concat = join(dir, 'concat.mp4')
  await writeFile(concat, 'ffconcat version 1.0\nfile good.mp4\nduration 6\n')
  const { ffmpeg } = await resolveFfmpeg()
  await run(ffmpeg, ['-nostdin', '-v', 'error', '-i', join(dir, 'good.mp4'), '-c', 'copy', '-f', 'mpegts', join(dir, 'piece.ts')])
  const hls = join(dir, 'playlist.mkv')
  await writeFile(hls, '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\npiece.ts\n#EXT-X-ENDLIST\n')
  for (const n of [1, 2, 3]) await copyFile(await fixture('image.png'), join(dir, `frame-00${n}.png`))
  const pattern = join(dir, 'frame-%03d.png')
  await copyFile(await fixture('image.png'), pattern)
  for (const path of [concat, hls, pattern]) {
    const res = await api(t, 'POST', '/api/v1/media', { path })
    t.is(res.status, 422, path)
    t.is(res.json.error, 'InvalidMediaError', path)
  }
  t.is((await api(t, 'GET', '/api/v1/media')).json.items.length, before)

  // a source replaced by an ffconcat file after it was added: ffmpeg refuses it too, nothing is served
  const source = join(dir, 'swapped.mp4')
  await copyFile(await fixture('odd-854x480-6s'), source)
  const { id } = (await api(t, 'POST', '/api/v1/media', { path: source })).json
  await writeFile(source, 'ffconcat version 1.0\nfile good.mp4\nduration 6\n')
  const segment = await get(t, `/media/${id as string}/360p/1.m4s`)
  t.is(segment.status, 502)
  t.is((await segment.json()).error, 'TranscodeFailedError')
})

test.serial('names with quotes, spaces, a leading dash and a newline are added and play', async t => {
  const source = await fixture('portrait-6s')
  const dir = join(t.context.dir, 'names')
  await mkdir(dir, { recursive: true })
  const names = ['-i "quoted" it\'s.mp4', ' spaced  out .mp4', 'line\nbreak.mp4', 'back\\slash.mp4']
  for (const name of names) {
    const path = join(dir, name)
    await copyFile(source, path)
    const res = await api(t, 'POST', '/api/v1/media', { path })
    t.true(res.status === 201 || res.status === 200, name)
    t.is(res.json.renditions[0].profile, '720p') // a 720x1280 portrait source: its short side is 720
  }
  const media = (await api(t, 'POST', '/api/v1/media', { path: join(dir, names[0]) })).json
  const segment = await get(t, `/media/${media.id}/360p/0.m4s`)
  t.is(segment.status, 200)
  t.true((await segment.arrayBuffer()).byteLength > 1000)
})

for (const [width, height] of [[160, 90], [32, 18]]) {
  test.serial(`a ${width}x${height} source gets a rendition of its own height that plays from the master playlist`, async t => {
    const path = await writeClip(join(t.context.dir, `tiny ${width}x${height}.mp4`), width, height, 3)
    const add = await api(t, 'POST', '/api/v1/media', { path })
    t.is(add.status, 201)
    t.deepEqual(add.json.renditions.map((r: { profile: string }) => r.profile), [`${height}p`])
    const base = `/media/${add.json.id as string}`
    const master = await get(t, `${base}/master.m3u8`)
    t.is(master.status, 200)
    const variant = (await master.text()).split('\n').find(line => line.endsWith('.m3u8'))
    t.is(variant, `${height}p/index.m3u8`)
    const index = await get(t, `${base}/${variant as string}`)
    t.is(index.status, 200)
    const segment = (await index.text()).split('\n').find(line => line.endsWith('.m4s'))
    t.is(segment, '0.m4s')
    for (const file of ['init.mp4', segment as string]) {
      const res = await get(t, `${base}/${height}p/${file}`)
      t.is(res.status, 200, file)
      t.true((await res.arrayBuffer()).byteLength > 100, file)
    }
  })
}

test.serial('unknown ids, profiles, segments, CIDs and hostile paths are refused with JSON errors', async t => {
  const path = await fixture('odd-854x480-6s')
  const { id } = (await api(t, 'POST', '/api/v1/media', { path })).json
  const cases: Array<[string, number, string]> = [
    ['/api/v1/media/0000000000000000', 404, 'MediaNotFoundError'],
    ['/api/v1/media/..%2f..%2fetc%2fpasswd', 404, 'MediaNotFoundError'],
    [`/media/${id}/2160p/index.m3u8`, 404, 'ProfileNotFoundError'],
    [`/media/${id}/..%2f..%2f/index.m3u8`, 404, 'ProfileNotFoundError'],
    [`/media/${id}/480p/9999.m4s`, 404, 'SegmentNotFoundError'],
    [`/media/${id}/480p/-1.m4s`, 404, 'SegmentNotFoundError'],
    [`/media/${id}/480p/%2e%2e%5c%2e%2e%5cetc.m4s`, 404, 'SegmentNotFoundError'],
    ['/media/nope/master.m3u8', 404, 'MediaNotFoundError'],
    ['/ipfs/not-a-cid', 400, 'InvalidCIDError'],
    ['/ipfs/bafkreigjeg7bar6octwm3zp3t45excu7baykd7nhx3iaeyarfi5pvljlt', 400, 'InvalidCIDError'],
    ['/ipfs/bafkreigjeg7bar6octwm3zp3t45excu7baykd7nhx3iaeyarfi5pvljlti', 404, 'ContentNotFoundError']
  ]
  for (const [url, status, error] of cases) {
    const res = await get(t, url)
    t.is(res.status, status, url)
    t.is((await res.json()).error, error, url)
  }
  // without a credential, content is refused before anything is looked up
  for (const url of [`/media/${id}/480p/0.m4s`, '/media/nope/master.m3u8', '/ipfs/not-a-cid']) {
    const res = await fetch(t.context.server.url + url)
    t.is(res.status, 401, url)
    t.is((await res.json()).error, 'TokenMissingError', url)
  }
  const progress = await api(t, 'PUT', `/api/v1/media/${id}/progress`, { positionSeconds: -3 })
  t.is(progress.status, 400)
  // whose progress it is comes from the token alone: text that is no token is refused, not taken for a name
  const forged = await api(t, 'GET', `/api/v1/media/${id}/progress`, undefined, '../admin')
  t.is(forged.status, 401)
  t.is(forged.json.error, 'InvalidCredentialsError')
  const anonymous = await api(t, 'GET', `/api/v1/media/${id}/progress`, undefined, null)
  t.is(anonymous.status, 401)
  t.is(anonymous.json.error, 'AuthenticationRequiredError')
})

test.serial('resume returns the position the viewer reported, per viewer', async t => {
  const path = await fixture('odd-854x480-6s')
  const { id } = (await api(t, 'POST', '/api/v1/media', { path })).json
  const alice = await viewerToken(t.context.server, 'alice')
  const bob = await viewerToken(t.context.server, 'bob')
  t.is((await api(t, 'PUT', `/api/v1/media/${id}/progress`, { positionSeconds: 4.5 }, alice)).status, 204)
  t.is((await api(t, 'GET', `/api/v1/media/${id}/progress`, undefined, alice)).json.positionSeconds, 4.5)
  t.is((await api(t, 'GET', `/api/v1/media/${id}/progress`, undefined, bob)).json.positionSeconds, null)
  const cont = await api(t, 'GET', '/api/v1/progress', undefined, alice)
  t.is(cont.json.items[0].mediaId, id)
  t.deepEqual((await api(t, 'GET', '/api/v1/progress', undefined, bob)).json.items, [], 'bob has nothing to continue')
})

test.serial('a finished rendition is a pinned directory the /ipfs gateway serves, and later viewers start no ffmpeg', async t => {
  const { server } = t.context
  const path = await fixture('vp9-opus-6s')
  const { id } = (await api(t, 'POST', '/api/v1/media', { path })).json
  const job = await server.library.job(id, '360p')
  await server.transcoder.complete(job)
  const media = (await api(t, 'GET', `/api/v1/media/${id}`)).json
  const rendition = media.renditions.find((r: { profile: string }) => r.profile === '360p')
  t.is(rendition.state, 'complete')
  t.regex(rendition.root, /^bafy/)
  t.true(await server.peer.pins.isPinned((await import('multiformats/cid')).CID.parse(rendition.root)))
  // one level up: the media's directory holds a master playlist over the finished renditions
  t.regex(media.root, /^bafy/)
  const master = await (await get(t, `/ipfs/${media.root}/master.m3u8`)).text()
  t.deepEqual(master.split('\n').filter(l => l.endsWith('.m3u8')), ['360p/index.m3u8'])
  t.is(await (await get(t, `/ipfs/${media.root}/360p/index.m3u8`)).text(), await (await get(t, `/ipfs/${rendition.root}/index.m3u8`)).text())

  const started = await sessionsStarted(server)
  const playlist = await (await get(t, `/media/${id}/360p/index.m3u8`)).text()
  const names = ['init.mp4', ...playlist.split('\n').filter(l => l.endsWith('.m4s'))]
  for (const name of names) {
    const viaMedia = Buffer.from(await (await get(t, `/media/${id}/360p/${name}`)).arrayBuffer())
    const viaIpfs = await get(t, `/ipfs/${rendition.root}/${name}`)
    t.is(viaIpfs.status, 200)
    t.deepEqual(Buffer.from(await viaIpfs.arrayBuffer()), viaMedia, name)
  }
  const stored = await (await get(t, `/ipfs/${rendition.root}/index.m3u8`)).text()
  t.is(stored, playlist)

  // verified-fetch checks every block against its CID on the way
  const verified = await verifiedFetchVia(server.url, bearer(t.context.token))
  try {
    for (const name of [...names, 'index.m3u8']) {
      const res = await verified.fetch(`ipfs://${rendition.root}/${name}`, { signal: AbortSignal.timeout(20_000) })
      t.is(res.status, 200, name)
      const direct = Buffer.from(await (await get(t, `/ipfs/${rendition.root}/${name}`)).arrayBuffer())
      t.deepEqual(Buffer.from(await res.arrayBuffer()), direct, name)
    }
  } finally {
    await verified.stop()
  }
  t.is(await sessionsStarted(server), started)
})

test.serial('the metrics count ffmpeg sessions and health answers', async t => {
  const health = await api(t, 'GET', '/healthz')
  t.is(health.status, 200)
  t.is(health.json.status, 'ok')
  t.true(await sessionsStarted(t.context.server) >= 1)
})

test.serial('a config file with a bad value is refused with a message naming the key', async t => {
  const data = join(t.context.dir, 'bad-config')
  await mkdir(data, { recursive: true })
  await writeFile(join(data, 'config.json'), JSON.stringify({ listen: 'nowhere' }))
  const err = await t.throwsAsync(startServer({ dataDir: data, logLevel: 'silent' }))
  t.is(err?.name, 'InvalidConfigError')
  t.regex(err?.message ?? '', /listen/)
})

test.serial('a source that already fits a profile is copied on the keyframe grid, not encoded', async t => {
  const { server } = t.context
  const path = await fixture('h264-aac-10s')
  const media = (await api(t, 'POST', '/api/v1/media', { path })).json
  t.is(media.renditions[0].profile, '720p')
  const job = await server.library.job(media.id, '720p')
  t.is(job.plan.mode, 'remux')
  const playlist = await (await get(t, `/media/${media.id}/720p/index.m3u8`)).text()
  t.is(playlist.split('\n').filter(l => l.endsWith('.m4s')).length, job.grid.starts.length)
  // a seek first, then the start: two copy runs meet on the keyframe grid
  const late = await get(t, `/media/${media.id}/720p/3.m4s`)
  t.is(late.status, 200)
  await server.transcoder.complete(job)
  const detail = (await api(t, 'GET', `/api/v1/media/${media.id}`)).json
  t.is(detail.renditions[0].state, 'complete')
  const sizes = []
  for (let n = 0; n < job.grid.starts.length; n++) {
    const res = await get(t, `/media/${media.id}/720p/${n}.m4s`)
    t.is(res.status, 200)
    sizes.push((await res.arrayBuffer()).byteLength)
  }
  // copied segments hold the source's own bits: together about the size of the source's video and audio
  const total = sizes.reduce((a, b) => a + b, 0)
  t.true(total > media.sizeBytes * 0.8 && total < media.sizeBytes * 1.2, `segments ${total} bytes vs source ${media.sizeBytes}`)
})
