import { join } from 'node:path'
import { delegatedRoutingV1HttpApiClient } from '@helia/delegated-routing-v1-http-api-client'
import anyTest from 'ava'
import { CID } from 'multiformats/cid'
import { identity as identityHash } from 'multiformats/hashes/identity'
import { sha512 } from 'multiformats/hashes/sha2'
import { fixture } from '../../../fixtures/media.ts'
import { readSwarmKey } from '../../../core/config/index.ts'
import { startServer } from '../../../node/server.ts'
import { cidcast } from '../../helpers/spawn.ts'
import { tempDir, waitFor } from '../../helpers/tmp.ts'
import { runCleanup } from '../control/helpers.ts'
import { autopilot, startFakeNode } from './helpers.ts'
import type { Cleanup } from '../control/helpers.ts'
import type { FakeNode } from './helpers.ts'
import type { ReplicationView } from '../../../core/replication/index.ts'
import type { RunningServer } from '../../../node/server.ts'
import type { ComponentLogger, Logger as Libp2pLogger } from '@libp2p/interface'
import type { TestFn } from 'ava'

/*
 * The main server's replication API, routing answer and CLI, with a real server (catalog, transcoder, Helia) and
 * fake nodes that pin over bitswap as a node does (test/core/replication/helpers.ts `autopilot`).
 */

const test = anyTest as TestFn<{ server: RunningServer, cleanup: Cleanup, alpha: FakeNode, beta: FakeNode, mediaId: string, root: string }>

/** The stock routing client wants a libp2p ComponentLogger; these tests want it quiet. */
function quietLogger (): ComponentLogger {
  const log: Libp2pLogger = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false, newScope: () => log })
  return { forComponent: () => log }
}

async function api<T> (server: RunningServer, method: string, path: string, body?: unknown): Promise<{ status: number, body: T }> {
  const res = await fetch(`${server.url}${path}`, { method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
  return { status: res.status, body: await res.json() as T }
}

test.before(async t => {
  const dir = await tempDir('cidcast-replication-http-')
  const cleanup: Cleanup = [dir.remove]
  const data = join(dir.path, 'data')
  const server = await startServer({ dataDir: data, listen: '127.0.0.1:0', dnsListen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], heartbeatSeconds: 0.3, logLevel: 'silent' })
  cleanup.push(server.stop)
  const media = await server.addMedia(await fixture('odd-854x480-6s'))
  await server.transcoder.complete(await server.library.job(media.id, '360p'))
  const root = await waitFor(async () => (await server.library.get(media.id)).renditions.find(r => r.profile === '360p')?.root ?? undefined, 60_000, 'the 360p root')
  const key = await readSwarmKey(join(data, 'swarm.key'))
  const alpha = await startFakeNode(cleanup, key, server, 'alpha')
  const beta = await startFakeNode(cleanup, key, server, 'beta', { quotaBytes: 2 ** 30, usedBytes: 0, freeBytes: 2 ** 30 })
  for (const node of [alpha, beta]) {
    const pilot = autopilot(node)
    cleanup.push(pilot.stop)
  }
  t.context = { server, cleanup, alpha, beta, mediaId: media.id, root }
})

test.after.always(async t => { await runCleanup(t.context.cleanup) })

test.serial('cidcast pin add --wait replicates a media to a node and prints where; its locations and the routing API list the node', async t => {
  const { server, mediaId, root } = t.context
  const added = await cidcast('pin', 'add', mediaId, '--node', 'alpha', '--wait', '--server', server.url)
  t.is(added.code, 0, added.stderr)
  t.true(added.stdout.split('\n').includes(`pinned ${root} on alpha`), added.stdout)

  const where = await api<{ media: string, renditions: Array<{ profile: string, root: string, server: boolean, locations: ReplicationView[] }> }>(server, 'GET', `/api/v1/media/${mediaId}/locations`)
  t.is(where.status, 200)
  const rendition = where.body.renditions.find(r => r.profile === '360p')
  t.is(rendition?.root, root)
  t.true(rendition?.server)
  t.deepEqual(rendition?.locations.map(l => [l.node.label, l.state, l.reachable, l.progress.percent, l.mediaId, l.profile]), [['alpha', 'pinned', true, 100, mediaId, '360p']])

  // a stock Helia router finds alpha (with its addresses) and the main server
  const router = delegatedRoutingV1HttpApiClient({ url: server.url, cacheTTL: 0 })({ logger: quietLogger() })
  await router.start()
  try {
    const providers = []
    for await (const p of router.getProviders(CID.parse(root), { signal: AbortSignal.timeout(5000) })) providers.push(p)
    t.deepEqual(providers.map(p => p.ID.toString()), [t.context.alpha.peer.libp2p.peerId.toCID().toString(), server.peer.libp2p.peerId.toCID().toString()])
    t.true(providers[0].Addrs.length > 0)
  } finally {
    await router.stop()
  }

  const status = await cidcast('status', mediaId, '--server', server.url)
  t.is(status.code, 0, status.stderr)
  t.regex(status.stdout, new RegExp(`^${root}\\t${mediaId} 360p\\tmain server holds it\\n  alpha\\tpinned\\t100% \\d+/\\d+ blocks, [\\d.]+ (KiB|MiB)\\n`, 'm'))
  const metrics = await (await fetch(`${server.url}/metrics`)).text()
  t.regex(metrics, /^cidcast_replication_pins\{state="pinned"\} 1$/m)
  const ls = await cidcast('pin', 'ls', '--node', 'alpha', '--server', server.url)
  t.regex(ls.stdout, new RegExp(`^${root}\\talpha\\tpinned\\t100% .*\\t${mediaId} 360p$`, 'm'))
})

test.serial('pin add of a rendition that is not finished has the main server make it first, then pins it', async t => {
  const { server, mediaId } = t.context
  // the 854x480 fixture's ladder is 360p (finished before) and 480p (not made yet)
  const other = (await server.library.get(mediaId)).renditions.find(r => r.root == null)
  if (other == null) return t.fail('the fixture has no unfinished rendition')
  const added = await cidcast('pin', 'add', mediaId, '--profile', other.profile, '--node', 'beta', '--wait', '--server', server.url)
  t.is(added.code, 0, added.stderr)
  t.regex(added.stdout, new RegExp(`^preparing ${mediaId} ${other.profile} for beta \\(the main server is making every segment`, 'm'))
  const root = (await server.library.get(mediaId)).renditions.find(r => r.profile === other.profile)?.root
  t.truthy(root)
  t.true(added.stdout.split('\n').includes(`pinned ${root ?? ''} on beta`), added.stdout)
  t.deepEqual(server.replication.preparing(mediaId), [])
  const status = await cidcast('status', mediaId, '--server', server.url)
  t.regex(status.stdout, new RegExp(`^${root ?? ''}\t${mediaId} ${other.profile}\tmain server holds it\n  beta\tpinned\t`, 'm'))
  // unpinned again, so the next tests see beta as before
  t.is((await cidcast('pin', 'rm', root ?? '', '--node', 'beta', '--wait', '--server', server.url)).code, 0)
})

test.serial('the API answers 202 with the rows, and refusals with their names and reasons', async t => {
  const { server, root } = t.context
  const posted = await api<{ items: ReplicationView[] }>(server, 'POST', '/api/v1/replications', { cid: root, node: 'beta' })
  t.is(posted.status, 202)
  t.like(posted.body.items[0], { cid: root, node: { label: 'beta' } })
  t.true(['queued', 'pinning', 'pinned'].includes(posted.body.items[0].state))
  await waitFor(async () => (await api<{ items: ReplicationView[] }>(server, 'GET', `/api/v1/replications?node=beta&cid=${root}`)).body.items[0]?.state === 'pinned', 20_000, 'beta to pin')

  const tooMany = await api<{ error: string, message: string }>(server, 'POST', '/api/v1/replications', { cid: root, replicas: '3' })
  t.is(tooMany.status, 409)
  t.is(tooMany.body.error, 'UnderReplicatedError')
  t.is(tooMany.body.message, `under-replicated: ${root} needs 3 replicas, but 2 nodes hold it (alpha, beta) and 0 more can take it`)
  const cli = await cidcast('pin', 'add', root, '--replicas', '3', '--server', server.url)
  t.is(cli.code, 1)
  t.regex(cli.stderr, /^error: UnderReplicatedError: under-replicated: /)

  t.is((await api(server, 'POST', '/api/v1/replications', { cid: root, node: 'nobody' })).status, 404)
  t.is((await api(server, 'POST', '/api/v1/replications', { cid: root })).status, 400)
  t.is((await api(server, 'POST', '/api/v1/replications', { cid: root, replicas: '5:2' })).status, 400)
  t.is((await api(server, 'POST', '/api/v1/replications', { cid: 42, node: 'beta' })).status, 400)
  t.is((await api(server, 'GET', '/api/v1/media/ffffffffffffffff/locations')).status, 404)
})

test.serial('identity CIDs and CIDs of other hashes are refused as pins with a 400 naming why, and never listed as provided', async t => {
  const { server } = t.context
  // bafkqaaa is the empty identity CID: its "bytes" are inside it, so every blockstore claims to have it
  const identity = CID.parse('bafkqaaa')
  const withBytes = CID.createV1(0x55, identityHash.digest(new TextEncoder().encode('hello')))
  for (const cid of [identity.toString(), withBytes.toString()]) {
    const pinned = await api<{ error: string, message: string }>(server, 'POST', '/api/v1/replications', { cid, node: 'beta' })
    t.is(pinned.status, 400, cid)
    t.is(pinned.body.error, 'InvalidCIDError')
    t.regex(pinned.body.message, /identity CID/)
    const providers = await api<{ error: string, message: string }>(server, 'GET', `/routing/v1/providers/${cid}`)
    t.is(providers.status, 400, cid)
    t.regex(providers.body.message, /identity CID/)
  }
  // a sha2-512 CID: refused for its hash (the import profile makes sha2-256 only), before anyone is asked
  const other512 = CID.createV1(0x55, await sha512.digest(new TextEncoder().encode('x')))
  const other = await api<{ error: string, message: string }>(server, 'POST', '/api/v1/replications', { cid: other512.toString(), node: 'beta' })
  t.is(other.status, 400)
  t.is(other.body.error, 'InvalidCIDError')
  t.regex(other.body.message, /sha2-256/)
  const rows = await api<{ items: ReplicationView[] }>(server, 'GET', '/api/v1/replications?node=beta')
  t.false(rows.body.items.some(r => r.cid === identity.toString() || r.cid === withBytes.toString()), 'nothing was ordered')
})

test.serial('cidcast pin rm --wait unpins from one node; the routing API stops listing it', async t => {
  const { server, mediaId, root } = t.context
  const removed = await cidcast('pin', 'rm', mediaId, '--node', 'beta', '--wait', '--server', server.url)
  t.is(removed.code, 0, removed.stderr)
  t.is(removed.stdout, `unpinned ${root} on beta\n`)
  let pins = 0
  for await (const pin of t.context.beta.peer.pins.ls()) { void pin; pins++ }
  t.is(pins, 0)
  const answer = await api<{ Providers: Array<{ ID: string }> }>(server, 'GET', `/routing/v1/providers/${root}`)
  t.deepEqual(answer.body.Providers.map(p => p.ID), [t.context.alpha.peer.libp2p.peerId.toString(), server.peer.libp2p.peerId.toString()])
  const missing = await cidcast('pin', 'rm', root, '--node', 'beta', '--server', server.url)
  t.is(missing.code, 1)
  t.regex(missing.stderr, /^error: PinNotFoundError: node beta holds or is ordered to hold /)
})
