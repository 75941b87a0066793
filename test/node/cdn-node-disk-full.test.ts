import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { startNode } from '../../node/cdn-node.ts'
import { startTestServer } from '../helpers/server.ts'
import { streamToken, withToken } from '../helpers/stream-url.ts'
import { waitFor } from '../helpers/tmp.ts'
import { mountTmpfs, requireRoot } from '../helpers/tmpfs.ts'
import type { RunningNode } from '../../node/cdn-node.ts'
import type { TestServer } from '../helpers/server.ts'
import type { Tmpfs } from '../helpers/tmpfs.ts'
import type { TestFn } from 'ava'

/*
 * A CDN node whose data folder's disk fills up between two measurements of it (a tmpfs of its own, filled to the last
 * byte while the node still believes it has room): a miss it cannot keep is served from memory, verified as always,
 * /healthz says degraded and why, and once space is freed the node keeps what it fetches again, without a restart.
 */

const test = anyTest as TestFn<{ disk: Tmpfs, main: TestServer, cdn: RunningNode, id: string, token: string }>

test.before(async t => {
  requireRoot('the node disk-full test')
  t.context.main = await startTestServer({ heartbeatSeconds: 1 })
  const { server } = t.context.main
  const media = await server.addMedia(await fixture('odd-854x480-6s'))
  await server.transcoder.complete(await server.library.job(media.id, '360p'))
  t.context.id = media.id
  t.context.disk = await mountTmpfs(64 * 1024 * 1024)
  t.context.cdn = await startNode({
    dataDir: join(t.context.disk.path, 'node'),
    swarmKeyFile: join(t.context.main.dir, 'data', 'swarm.key'),
    server: server.url,
    listen: '127.0.0.1:0',
    p2pListen: ['/ip4/127.0.0.1/tcp/0'],
    logLevel: 'silent',
    name: 'disk-full node',
    // the tmpfs is small: keep back only a little, so "full" means the disk is really full
    reserveBytes: 1024 * 1024
  })
  // the node checks stream tokens with the keys it gets when it registers (written before the disk fills)
  await waitFor(() => t.context.cdn.status().state === 'registered', 20_000, 'the node to register')
  t.context.token = await streamToken(server, media.id)
})

test.after.always(async t => {
  try {
    await t.context.cdn?.stop()
    await t.context.main?.stop()
  } finally {
    await t.context.disk?.unmount()
  }
})

async function get (url: string): Promise<{ status: number, source: string | null, body: Buffer, json?: any }> {
  const res = await fetch(url)
  const body = Buffer.from(await res.arrayBuffer())
  return { status: res.status, source: res.headers.get('x-cidcast-source'), body, json: res.headers.get('content-type')?.includes('json') === true ? JSON.parse(body.toString('utf8')) : undefined }
}

test.serial('a node whose disk fills up serves a miss it cannot keep from memory, says degraded, and keeps misses again once space is freed', async t => {
  const { cdn, disk, id, token } = t.context
  const origin = t.context.main.server.url
  // measured now with room to spare: the node believes it has room when the disk fills (its figure lives 10 s)
  const before = await get(`${cdn.url}/healthz`)
  t.is(before.json.status, 'ok')
  t.false(before.json.capacity.full)
  await disk.fill()

  const path = `/media/${id}/360p/2.m4s`
  const served = await get(withToken(cdn.url + path, token))
  t.is(served.status, 200)
  t.is(served.source, 'origin')
  t.deepEqual(served.body, (await get(withToken(origin + path, token))).body)
  const health = await get(`${cdn.url}/healthz`)
  t.is(health.json.status, 'degraded')
  t.regex(health.json.reasons.join('\n'), /is full: 0\.0 MiB left/)
  t.true(health.json.capacity.full)
  // not kept: asked again, it comes from the origin again
  t.is((await get(withToken(cdn.url + path, token))).source, 'origin')

  await disk.unfill()
  await waitFor(async () => (await get(`${cdn.url}/healthz`)).json.status === 'ok', 20_000, 'the node to measure its freed disk')
  const next = `/media/${id}/360p/1.m4s`
  t.is((await get(withToken(cdn.url + next, token))).source, 'origin')
  const again = await get(withToken(cdn.url + next, token))
  t.is(again.status, 200)
  t.is(again.source, 'local')
  t.deepEqual(again.body, (await get(withToken(origin + next, token))).body)
})
