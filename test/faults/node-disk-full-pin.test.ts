import { join } from 'node:path'
import test from 'ava'
import { CID } from 'multiformats/cid'
import { fixture } from '../../fixtures/media.ts'
import { adminFetch } from '../helpers/auth.ts'
import { assertWhole, playRendition } from '../helpers/content-check.ts'
import { registeredNode } from '../helpers/registered-node.ts'
import { startTestServer } from '../helpers/server.ts'
import { streamToken, withToken } from '../helpers/stream-url.ts'
import { waitFor } from '../helpers/tmp.ts'
import { mountTmpfs, requireRoot } from '../helpers/tmpfs.ts'
import type { ReplicationView } from '../../core/replication/index.ts'

/*
 * Fault: a pin ordered to a node whose data folder's disk is full to the last byte (a tmpfs of its own, filled
 * while the node still believes it has room). The pin fails with a reason the main server shows, never reads as
 * pinned, and leaves no pin on the node; once space is freed the main server orders it again by itself (the node's
 * heartbeats say it has room) and it completes, served whole from the node's own disk.
 */

test('a pin into a node\'s full disk fails with a clear reason, is never reported pinned, and completes by itself once space is freed', async t => {
  requireRoot('the node disk-full pin test')
  const main = await startTestServer({ heartbeatSeconds: 1 })
  t.teardown(main.stop)
  const disk = await mountTmpfs(64 * 1024 * 1024)
  t.teardown(disk.unmount)
  const running: Array<{ stop: () => Promise<void> }> = []
  t.teardown(async () => { for (const part of running) await part.stop() })
  const { server } = main

  const media = await server.addMedia(await fixture('odd-854x480-6s'))
  await server.transcoder.complete(await server.library.job(media.id, '360p'))
  const root = (await server.library.get(media.id)).renditions.find(r => r.profile === '360p')?.root
  if (root == null) return t.fail('360p did not complete')
  const node = await registeredNode({ dir: main.dir, running }, server.url, 'crowded', {
    dataDir: join(disk.path, 'node'),
    swarmKeyFile: join(main.dir, 'data', 'swarm.key'),
    heartbeatSeconds: 1,
    // the tmpfs is small: keep back only a little, so "full" means the disk is really full
    reserveBytes: 1024 * 1024
  })
  // measured now with room to spare: the node believes it has room when the disk fills
  t.false((await (await fetch(`${node.url}/healthz`)).json() as { capacity: { full: boolean } }).capacity.full)
  await disk.fill()

  const seen = new Set<string>()
  const row = async (): Promise<ReplicationView | undefined> => {
    const res = await adminFetch(server, `/api/v1/replications?media=${media.id}`)
    const found = (await res.json() as { items: ReplicationView[] }).items.find(r => r.node.name === 'crowded' && r.cid === root)
    if (found != null) seen.add(found.state)
    return found
  }
  const ordered = await adminFetch(server, '/api/v1/replications', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ media: media.id, node: 'crowded', profile: '360p' }) })
  t.true(ordered.ok, await ordered.clone().text())
  let last: ReplicationView | undefined
  const failed = await waitFor(async () => { const r = last = await row(); return r?.state === 'failed' && r }, 30_000, 'the pin to fail').catch(err => { t.log(JSON.stringify(last)); throw err })
  t.is(failed.error?.name, 'DataFolderFullError')
  t.regex(failed.reason ?? '', /full.*; ordered again once crowded reports room for it/)
  t.false(seen.has('pinned'))
  t.false(await node.peer.pins.isPinned(CID.parse(root)), 'no pin on the node')
  // it stays failed while the disk is full (no retry that cannot succeed)
  const health = await (await fetch(`${node.url}/healthz`)).json() as { status: string }
  t.is(health.status, 'degraded')
  t.is((await row())?.state, 'failed')

  await disk.unfill()
  const done = await waitFor(async () => { const r = await row(); return r?.state === 'pinned' && r }, 60_000, `the pin to complete once space is freed (seen: ${[...seen].join(', ')})`)
  t.is(done.progress.bytesDone, done.progress.bytesTotal ?? -1)
  t.true(await node.peer.pins.isPinned(CID.parse(root)))
  const played = await playRendition(withToken(`${node.url}/ipfs/${root}/index.m3u8`, await streamToken(server, media.id)), { 'Cache-Control': 'only-if-cached' })
  assertWhole(t, played, 'the node')
})
