import { join } from 'node:path'
import test from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { adminFetch } from '../helpers/auth.ts'
import { assertWhole, fetchFile, playRendition } from '../helpers/content-check.ts'
import { startFaultyProxy } from '../helpers/faulty-proxy.ts'
import { freePort } from '../helpers/ports.ts'
import { registeredNode } from '../helpers/registered-node.ts'
import { startTestServer } from '../helpers/server.ts'
import { streamToken, withToken } from '../helpers/stream-url.ts'
import { waitFor } from '../helpers/tmp.ts'
import type { FaultyProxy } from '../helpers/faulty-proxy.ts'
import type { ReplicationView } from '../../core/replication/index.ts'

/*
 * Fault: the network between a node and the main server split by proxies that drop (a blackhole, not a refusal):
 * the node's HTTP to the main server, its libp2p connection to the main server, and the main server's to it (order
 * nudges) all go through one. During the split the node serves what it holds, a miss fails with a clear error
 * within the origin's deadline, the main server marks the node offline and keeps a pin ordered meanwhile waiting;
 * once the network heals the node registers again by itself, the pin completes and the miss is served.
 */

const HEARTBEAT_SECONDS = 1

test('a node split from the main server by a dropping network serves what it holds, fails misses in bounded time, and recovers everything once the network heals', async t => {
  const serverP2p = await freePort()
  const nodeP2p = await freePort()
  const proxies: FaultyProxy[] = []
  t.teardown(async () => { for (const proxy of proxies) await proxy.close() })
  const toServerP2p = await startFaultyProxy(serverP2p)
  const toNodeP2p = await startFaultyProxy(nodeP2p)
  proxies.push(toServerP2p, toNodeP2p)
  const serverHttp = await freePort()
  const toServerHttp = await startFaultyProxy(serverHttp)
  proxies.push(toServerHttp)
  // the server names its proxied addresses as its own (`url`, `p2pAnnounce`): every way the node knows to reach it
  // crosses the split, as on a real network
  const main = await startTestServer({ heartbeatSeconds: HEARTBEAT_SECONDS, listen: `127.0.0.1:${serverHttp}`, url: `http://127.0.0.1:${toServerHttp.port}`, p2pListen: [`/ip4/127.0.0.1/tcp/${serverP2p}`], p2pAnnounce: [`/ip4/127.0.0.1/tcp/${toServerP2p.port}`] })
  t.teardown(main.stop)
  const { server } = main
  const split = (mode: 'pass' | 'drop'): void => { for (const proxy of proxies) proxy.set(mode) }

  const media = await server.addMedia(await fixture('odd-854x480-6s'))
  await server.transcoder.complete(await server.library.job(media.id, '360p'))
  const running: Array<{ stop: () => Promise<void> }> = []
  t.teardown(async () => { for (const part of running) await part.stop() })
  const node = await registeredNode({ dir: main.dir, running }, `http://127.0.0.1:${toServerHttp.port}`, 'islander', {
    swarmKeyFile: join(main.dir, 'data', 'swarm.key'),
    heartbeatSeconds: HEARTBEAT_SECONDS,
    p2pListen: [`/ip4/127.0.0.1/tcp/${nodeP2p}`],
    p2pAnnounce: [`/ip4/127.0.0.1/tcp/${toNodeP2p.port}`]
  })
  t.true(toServerHttp.accepted() > 0 && toServerP2p.accepted() > 0, 'the node reaches the main server through the proxies only')
  const info = await (await fetch(`${server.url}/api/v1/server`)).json() as { servers: Array<{ url: string }> }
  t.deepEqual(info.servers.map(s => s.url), [`http://127.0.0.1:${toServerHttp.port}`], 'the server gives nodes its url setting, not its listen address')

  const rows = async (): Promise<ReplicationView[]> => (await (await adminFetch(server, `/api/v1/replications?media=${media.id}`)).json() as { items: ReplicationView[] }).items
  const order = async (profile: string): Promise<void> => {
    const res = await adminFetch(server, '/api/v1/replications', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ media: media.id, node: 'islander', profile }) })
    if (!res.ok) throw new Error(`ordering ${profile}: ${res.status} ${await res.text()}`)
  }
  const stateOf = async (profile: string): Promise<string | undefined> => (await rows()).find(r => r.profile === profile && r.node.name === 'islander')?.state
  await order('360p')
  await waitFor(async () => await stateOf('360p') === 'pinned', 30_000, 'the 360p pin')
  const token = await streamToken(server, media.id)
  // a viewer plays it through the node once (the node keeps the playlists it served)
  const held = await playRendition(withToken(`${node.url}/media/${media.id}/360p/index.m3u8`, token))
  assertWhole(t, held, 'the node before the split')

  split('drop')
  const miss = (async () => {
    const started = Date.now()
    return { answer: await fetchFile(withToken(`${node.url}/media/${media.id}/480p/0.m4s`, token)), ms: Date.now() - started }
  })()
  const during = await playRendition(withToken(`${node.url}/media/${media.id}/360p/index.m3u8`, token))
  assertWhole(t, during, 'the node during the split')
  t.deepEqual(during.map(f => f.cid), held.map(f => f.cid))
  await waitFor(() => node.status().state === 'retrying', 10_000, 'the node to notice the main server is gone')
  await waitFor(async () => (await server.registry.list()).find(n => n.name === 'islander')?.state === 'offline', 10_000, 'the main server to mark the node offline')
  // a pin ordered during the split waits for the node, and says why
  await server.transcoder.complete(await server.library.job(media.id, '480p'))
  await order('480p')
  const waiting = await waitFor(async () => (await rows()).find(r => r.profile === '480p'), 10_000, 'the 480p row')
  t.is(waiting.state, 'queued')
  t.regex(waiting.reason ?? '', /unreachable/)
  const { answer, ms } = await miss
  t.log(`the miss during the split: ${answer.status} ${answer.error?.error ?? ''} after ${ms} ms`)
  t.true(answer.status === 502 || answer.status === 504, `status ${answer.status}`)
  t.truthy(answer.error?.message)
  // the rendition roots asked first get no answer within the API's 5 s: the miss fails then, not after 30 s more
  t.true(ms < 12_000, `answered within the API deadline, not the content one (${ms} ms)`)

  const registrations = node.status().registrations
  split('pass')
  await waitFor(() => node.status().state === 'registered' && node.status().registrations > registrations, 30_000, 'the node to register again by itself')
  await waitFor(async () => (await server.registry.list()).find(n => n.name === 'islander')?.state === 'online', 10_000, 'the node online again')
  await waitFor(async () => await stateOf('480p') === 'pinned', 30_000, 'the pin ordered during the split to complete')
  t.is(await stateOf('360p'), 'pinned', 'nothing lost')
  const root = (await server.library.get(media.id)).renditions.find(r => r.profile === '480p')?.root ?? ''
  const after = await playRendition(withToken(`${node.url}/ipfs/${root}/index.m3u8`, await streamToken(server, media.id)), { 'Cache-Control': 'only-if-cached' })
  assertWhole(t, after, 'the pin ordered during the split, from the node\'s own disk')
  // and the miss that failed during the split is served now
  assertWhole(t, [await fetchFile(withToken(`${node.url}/media/${media.id}/480p/0.m4s`, await streamToken(server, media.id)))], 'the miss after the heal')
})
