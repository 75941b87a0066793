import { Resolver } from 'node:dns/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { bearer } from '../helpers/auth.ts'
import { startChild } from '../helpers/child.ts'
import { api, clusterInfo as info, startPair } from '../helpers/cluster.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { ClusterInfo, ServerChild } from '../helpers/cluster.ts'

/*
 * Several main servers on one PostgreSQL catalog (issue 15, item 2), each a process of its own with its own data
 * folder, peer and blockstore: one leads; a segment one made is served by the other from its peer, not made again;
 * and when the leader is killed with SIGKILL the other takes the lead well within 30 s.
 */

const NODE = fileURLToPath(new URL('../helpers/node-process.ts', import.meta.url))
const PROFILE = '480p'

interface NodeHealth { ipns: string, registration: { state: string, serverPeerId?: string, servers: Array<{ peerId: string }> } }

/** The A records `name` has in the zone of `server`, asked of its DNS server. */
async function aRecords (server: ClusterInfo, name: string): Promise<string[]> {
  const resolver = new Resolver({ timeout: 2000, tries: 1 })
  resolver.setServers([server.dnsListen ?? ''])
  return await resolver.resolve4(`${name}.${server.zone}`).catch(() => [])
}

async function sessionsStarted (server: ServerChild): Promise<number> {
  const text = await (await fetch(`${server.ready.url}/metrics`, { headers: bearer(server.ready.token) })).text()
  const line = text.split('\n').find(l => l.startsWith('cidcast_ffmpeg_sessions_started_total '))
  return Number(line?.split(' ')[1] ?? NaN)
}

test('two main servers on one catalog: one leads, a segment one made plays from the other without a new ffmpeg, and the lead moves within 30 s of a kill -9', async t => {
  const dir = await tempDir('cidcast-cluster-')
  const { a, b } = await startPair(dir.path)
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop()])
    await dir.remove()
  })

  // the first to start leads; both know both
  const both = await waitFor(async () => {
    const [ia, ib] = await Promise.all([info(a), info(b)])
    return ia.servers.length === 2 && ib.servers.length === 2 && ib.servers.some(s => s.leader) ? { ia, ib } : undefined
  }, 20_000, 'both servers to see each other')
  t.true(both.ia.leader)
  t.false(both.ib.leader)
  t.deepEqual(both.ib.servers.filter(s => s.leader).map(s => s.peerId), [both.ia.peerId])

  // one library: added through A, listed and played through B (the accounts and tokens are the catalog's)
  const added = await fetch(`${a.ready.url}/api/v1/media`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(a.ready.token) }, body: JSON.stringify({ path: await fixture('h264-aac-720p-30s') }) })
  t.is(added.status, 201)
  const { id } = await added.json() as { id: string }
  const fromA = await fetch(`${a.ready.url}/media/${id}/${PROFILE}/0.m4s`, { headers: bearer(a.ready.token) })
  t.is(fromA.status, 200)
  const bytesA = Buffer.from(await fromA.arrayBuffer())
  const fromB = await fetch(`${b.ready.url}/media/${id}/${PROFILE}/0.m4s`, { headers: bearer(a.ready.token) })
  t.is(fromB.status, 200)
  t.true(Buffer.from(await fromB.arrayBuffer()).equals(bytesA))
  t.is(await sessionsStarted(b), 0, 'B made no segment: it fetched A\'s blocks')

  // a play URL asked of B is demand for the leader's distributor
  const plays = async (server: ServerChild): Promise<number> => {
    const text = await (await fetch(`${server.ready.url}/metrics`, { headers: bearer(server.ready.token) })).text()
    return Number(text.split('\n').find(l => l.startsWith('cidcast_distribution_plays_total '))?.split(' ')[1] ?? NaN)
  }
  t.is(await plays(a), 0)
  t.is((await fetch(`${b.ready.url}/api/v1/media/${id}/play`, { headers: bearer(a.ready.token) })).status, 200)
  await waitFor(async () => await plays(a) === 1, 10_000, 'the leader to count the play asked of B')
  t.is(await plays(b), 0)

  // a route only the leader answers, asked of B, is answered by A through B
  const goals = await fetch(`${b.ready.url}/api/v1/replications`, { headers: bearer(a.ready.token) })
  t.is(goals.status, 200)

  const killedAt = Date.now()
  a.child.kill('SIGKILL')
  await waitFor(async () => (await info(b)).leader, 30_000, 'B to take the lead')
  const tookMs = Date.now() - killedAt
  t.true(tookMs <= 30_000, `took ${tookMs} ms`)
  t.log(`the lead moved ${tookMs} ms after the kill`)
  // and B, now alone and leading, answers the leader's routes itself
  t.is((await fetch(`${b.ready.url}/api/v1/replications`, { headers: bearer(a.ready.token) })).status, 200)
  await waitFor(async () => (await info(b)).servers.length === 1, 20_000, 'A to leave B\'s list of servers')
})

test('a node given the server that does not lead registers through it with the leader, takes a pin ordered through it, and moves to the other server when its own is killed', async t => {
  const dir = await tempDir('cidcast-cluster-node-')
  const { a, b, swarmKey } = await startPair(dir.path)
  const node = await startChild<{ url: string }>(NODE, [join(dir.path, 'node'), b.ready.url, swarmKey, '127.0.0.1:0', '', 'edge one'], 60_000, { env: { BENCH_SERVER_LOG_LEVEL: 'error' } })
  t.teardown(async () => {
    await Promise.all([node.stop(), a.stop(), b.stop()])
    await dir.remove()
  })
  const token = a.ready.token
  const [ia, ib] = await Promise.all([info(a), info(b)])
  const health = async (): Promise<NodeHealth> => await (await fetch(`${node.ready.url}/healthz`)).json() as NodeHealth
  await waitFor(async () => {
    const { registration } = await health()
    return registration.state === 'registered' && registration.serverPeerId === ib.peerId && registration.servers.length === 2
  }, 30_000, 'the node to register with B and learn both servers')
  // the leader keeps it (B relayed its registration), and B lists it from the catalog
  const listed = async (server: ServerChild): Promise<Array<{ label: string, state: string }>> => (await api<{ items: Array<{ label: string, state: string }> }>(server, token, 'GET', '/api/v1/nodes?all=1')).items
  await waitFor(async () => (await listed(a)).some(n => n.label === 'edge-one' && n.state === 'online') && (await listed(b)).some(n => n.label === 'edge-one'), 20_000, 'both servers to list the node')

  // the node put its IPNS record on B; A answers for it too (asked of B, checked, kept)
  const { ipns } = await health()
  const record = await waitFor(async () => {
    const res = await fetch(`${a.ready.url}/routing/v1/ipns/${ipns}`, { headers: { Accept: 'application/vnd.ipfs.ipns-record' } })
    return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : undefined
  }, 20_000, 'A to answer the node\'s IPNS record')
  t.true(record.byteLength > 0)
  // DNS answers for the node come from either server (B follows the nodes in the catalog)
  for (const server of [ia, ib]) {
    t.deepEqual(await waitFor(async () => { const found = await aRecords(server, 'edge-one'); return found.length > 0 ? found : undefined }, 10_000, `${server.dnsListen ?? ''} to answer for the node`), ['127.0.0.1'])
  }

  // a pin asked of B is the leader's to order; the node, registered with B, gets it and reports it done
  const added = await api<{ id: string }>(a, token, 'POST', '/api/v1/media', { path: await fixture('h264-aac-720p-30s') })
  await api(b, token, 'POST', '/api/v1/replications', { media: added.id, node: 'edge-one', profile: PROFILE })
  await waitFor(async () => (await api<{ items: Array<{ state: string }> }>(b, token, 'GET', `/api/v1/replications?media=${added.id}&node=edge-one`)).items.some(r => r.state === 'pinned'), 90_000, 'the pin to be done')

  b.child.kill('SIGKILL')
  const killedAt = Date.now()
  await waitFor(async () => {
    const { registration } = await health()
    return registration.state === 'registered' && registration.serverPeerId === ia.peerId
  }, 30_000, 'the node to register with A')
  t.log(`the node moved to the other server ${Date.now() - killedAt} ms after its own was killed`)
  t.true((await listed(a)).some(n => n.label === 'edge-one' && n.state === 'online'))
  t.deepEqual(await aRecords(ia, 'edge-one'), ['127.0.0.1'], 'A still answers for the node in DNS')
})
