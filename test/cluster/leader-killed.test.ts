import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { bearer } from '../helpers/auth.ts'
import { startChild } from '../helpers/child.ts'
import { api, clusterInfo, startPair } from '../helpers/cluster.ts'
import { assertWhole, playRendition } from '../helpers/content-check.ts'
import { childrenNamed, running } from '../helpers/proc.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { ServerChild } from '../helpers/cluster.ts'
import type { MediaView } from '../../core/media/index.ts'

/*
 * Issue 15, item 4: the leading main server killed with SIGKILL in the middle of work, the other one of its catalog
 * finishing it. The segments the dead server made are recorded in the shared catalog but their blocks died with it:
 * the other makes them again (under its own transcode lease once the dead one's runs out), so no rendition is
 * complete with a segment nobody can serve, and every file played hashes to its CID. A replication ordered before the
 * kill is carried out once.
 */

const NODE = fileURLToPath(new URL('../helpers/node-process.ts', import.meta.url))
const PROFILE = '480p'

async function mediaView (server: ServerChild, id: string): Promise<MediaView> {
  return await api<MediaView>(server, server.ready.token, 'GET', `/api/v1/media/${id}`)
}

/** Kills `server` once it runs ffmpeg and has stored a segment of `id`'s rendition; resolves when it and its ffmpeg are gone. */
async function killMidTranscode (server: ServerChild, id: string): Promise<void> {
  const ffmpegs = await waitFor(async () => {
    const pids = await childrenNamed(server.child.pid as number, 'ffmpeg')
    const partial = (await mediaView(server, id)).renditions.some(r => r.profile === PROFILE && r.state === 'partial')
    return pids.length > 0 && partial ? pids : undefined
  }, 60_000, 'the leader to be transcoding')
  server.child.kill('SIGKILL')
  await waitFor(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) return false
    for (const pid of ffmpegs) if (await running(pid)) return false
    return true
  }, 10_000, 'the leader and its ffmpeg to die')
}

test('the leader killed mid-transcode: the other server serves every segment, makes again those that died with it, and finishes the rendition whole', async t => {
  t.timeout(240_000)
  const dir = await tempDir('cidcast-cluster-kill-transcode-')
  const { a, b } = await startPair(dir.path)
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop()])
    await dir.remove()
  })
  const token = a.ready.token
  const { id } = await api<{ id: string }>(a, token, 'POST', '/api/v1/media', { path: await fixture('h264-aac-720p-30s') })
  t.is((await fetch(`${a.ready.url}/media/${id}/${PROFILE}/0.m4s`, { headers: bearer(token) })).status, 200)
  await killMidTranscode(a, id)

  const played = await playRendition(`${b.ready.url}/media/${id}/${PROFILE}/index.m3u8`, bearer(token))
  t.is(played.filter(f => f.file.endsWith('.m4s')).length, 15)
  assertWhole(t, played, 'through the surviving server')
  const root = await waitFor(async () => (await mediaView(b, id)).renditions.find(r => r.profile === PROFILE && r.state === 'complete')?.root ?? undefined, 60_000, `${PROFILE} to be complete`)
  const inDirectory = await playRendition(`${b.ready.url}/ipfs/${root}/index.m3u8`, bearer(token))
  assertWhole(t, inDirectory, `/ipfs/${root}`)
  t.deepEqual(inDirectory.map(f => [f.file, f.cid]), played.map(f => [f.file, f.cid]))
})

test('the leader killed while preparing a replication: the other server takes the order up, makes the rendition whole and the node pins it once', async t => {
  t.timeout(300_000)
  const dir = await tempDir('cidcast-cluster-kill-replication-')
  const { a, b, swarmKey } = await startPair(dir.path)
  const node = await startChild<{ url: string }>(NODE, [join(dir.path, 'node'), b.ready.url, swarmKey, '127.0.0.1:0', '', 'edge two'], 60_000, { env: { BENCH_SERVER_LOG_LEVEL: 'error' } })
  t.teardown(async () => {
    await Promise.all([node.stop(), a.stop(), b.stop()])
    await dir.remove()
  })
  const token = a.ready.token
  await waitFor(async () => (await api<{ items: Array<{ label: string, state: string }> }>(b, token, 'GET', '/api/v1/nodes?all=1')).items.some(n => n.label === 'edge-two' && n.state === 'online'), 30_000, 'the node to register')
  const { id } = await api<{ id: string }>(a, token, 'POST', '/api/v1/media', { path: await fixture('h264-aac-720p-30s') })
  // ordered through B, prepared by the leader A: the rendition is made whole first
  await api(b, token, 'POST', '/api/v1/replications', { media: id, node: 'edge-two', profile: PROFILE })
  await killMidTranscode(a, id)
  await waitFor(async () => (await clusterInfo(b)).leader, 30_000, 'B to lead')
  t.log('B leads')

  const rows = await waitFor(async () => {
    const items = (await api<{ items: Array<{ state: string, cid: string, node: { label: string } }> }>(b, token, 'GET', `/api/v1/replications?media=${id}`)).items
    return items.some(r => r.state === 'pinned') ? items : undefined
  }, 180_000, 'the node to hold the rendition')
  t.is(rows.filter(r => r.node.label === 'edge-two').length, 1, 'one order for the node, carried out once')
  const rendition = (await mediaView(b, id)).renditions.find(r => r.profile === PROFILE)
  t.is(rendition?.state, 'complete')
  t.is(rows[0].cid, rendition?.root ?? '')
  assertWhole(t, await playRendition(`${b.ready.url}/ipfs/${rendition?.root ?? ''}/index.m3u8`, bearer(token)), 'the pinned rendition')
})
