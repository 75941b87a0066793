import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import type { FixtureName } from '../../fixtures/media.ts'
import { startNode } from '../../node/cdn-node.ts'
import { startServer } from '../../node/server.ts'
import { placeClip } from '../core/metadata/helpers.ts'
import { adminToken, bearer, TEST_ACCOUNTS, viewerToken } from '../helpers/auth.ts'
import { withToken } from '../helpers/stream-url.ts'
import { withRunningParts } from '../helpers/running.ts'
import { waitFor } from '../helpers/tmp.ts'
import type { DistributionSettings } from '../../core/config/index.ts'
import type { RunningNode, StartNodeOptions } from '../../node/cdn-node.ts'
import type { RunningServer } from '../../node/server.ts'
import type { RunningContext } from '../helpers/running.ts'
import type { ExecutionContext, TestFn } from 'ava'

/*
 * Automatic distribution (issue 13, item 7) with real processes' parts: a main server and CDN nodes in two regions
 * over the private network, real transcodes, real pins. Each test starts its own main server with the settings it
 * shows (the suite turns distribution off by default: see ava.config.js).
 */

type Context = RunningContext

const test = anyTest as TestFn<Context>
withRunningParts(test, 'cidcast-distribution-')

let count = 0

async function server (t: ExecutionContext<Context>, distribution: Partial<DistributionSettings>): Promise<RunningServer> {
  const started = await startServer({ dataDir: join(t.context.dir, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: 1, logLevel: 'silent', accounts: TEST_ACCOUNTS, distribution: { auto: true, evaluateSeconds: 1, ...distribution } as DistributionSettings })
  t.context.running.push(started)
  return started
}

async function node (t: ExecutionContext<Context>, main: RunningServer, options: StartNodeOptions): Promise<RunningNode> {
  const started = await startNode({
    dataDir: join(t.context.dir, `node-${++count}`),
    swarmKeyFile: join(t.context.dir, 'server', 'swarm.key'),
    server: main.url,
    listen: '127.0.0.1:0',
    p2pListen: ['/ip4/127.0.0.1/tcp/0'],
    logLevel: 'silent',
    minBackoffMs: 100,
    maxBackoffMs: 500,
    heartbeatSeconds: 1,
    quotaBytes: 2 ** 30,
    readAheadSegments: 0,
    ...options
  })
  t.context.running.push(started)
  await waitFor(() => started.status().state === 'registered', 20_000, `registration of ${options.name ?? 'a node'}`)
  return started
}

/**
 * Adds a fixture under `path` in the test's library and makes its smallest rendition whole; its id and root. Titles
 * that must differ take different fixtures: the same pictures make the same segments, so the same root.
 */
async function title (t: ExecutionContext<Context>, main: RunningServer, path: string, clip: FixtureName = 'odd-854x480-6s'): Promise<{ id: string, root: string }> {
  const media = await main.addMedia(await placeClip(await fixture(clip), join(t.context.dir, 'library', path)))
  const profile = [...media.renditions].sort((a, b) => a.height - b.height)[0]?.profile ?? '360p'
  const job = await main.library.job(media.id, profile)
  await main.transcoder.complete(job)
  await main.library.finish(job)
  const root = (await main.library.get(media.id)).renditions.find(r => r.profile === profile)?.root
  if (root == null) throw new Error(`the ${profile} rendition did not complete`)
  return { id: media.id, root }
}

/** A viewer asks the main server for a play URL through `node` (label): a play, as the web UI's player starts one. */
async function play (main: RunningServer, token: string, mediaId: string, node?: RunningNode): Promise<string> {
  const label = node?.status().label
  const res = await fetch(`${main.url}/api/v1/media/${mediaId}/play${label == null ? '' : `?node=${label}`}`, { headers: bearer(token) })
  if (res.status !== 200) throw new Error(`play URL answered ${res.status}: ${await res.text()}`)
  return (await res.json() as { url: string }).url
}

/** The content index row of `root` on `node`, as the API shows it. */
async function row (main: RunningServer, node: RunningNode, root: string): Promise<{ state: string, auto: boolean, orderedAt: string | null } | undefined> {
  const rows = await main.replication.list({ node: node.peer.libp2p.peerId.toString() })
  return rows.find(r => r.cid === root)
}

async function pinnedAuto (main: RunningServer, node: RunningNode, root: string, what: string): Promise<void> {
  await waitFor(async () => { const r = await row(main, node, root); return r?.state === 'pinned' && r.auto }, 30_000, what)
}

test.serial('the second viewer of a title through a node gets it placed there by itself; later segments come local', async t => {
  const main = await server(t, { minPlays: 1000 })
  const a = await node(t, main, { name: 'a', region: 'eu' })
  const b = await node(t, main, { name: 'b', region: 'eu' })
  const { id, root } = await title(t, main, 'Film (2001)/Film (2001).mp4')
  const first = await play(main, await adminToken(main), id, a)
  const segment = new URL(first).origin + `/media/${id}/360p/1.m4s`
  const token = new URL(first).searchParams.get('token') ?? ''
  t.is((await fetch(withToken(segment, token))).headers.get('x-cidcast-source'), 'origin', 'a fallback stream at first')
  await main.distributor.evaluate()
  t.is(await row(main, a, root), undefined, 'one viewer places nothing')

  await play(main, await viewerToken(main, 'second'), id, a)
  await pinnedAuto(main, a, root, 'the title pinned on a by itself')
  t.is(await row(main, b, root), undefined, 'only where its viewers are')
  // the automatic pin holds part of a's cache budget: kept files get the rest
  const health = await (await fetch(`${a.url}/healthz`)).json() as { capacity: { cacheUsedBytes: number } }
  t.true(health.capacity.cacheUsedBytes >= ((await main.replication.size(root))?.bytes ?? Infinity), 'the cache counts the automatic pin')
  const later = await fetch(withToken(new URL(first).origin + `/media/${id}/360p/2.m4s`, token))
  t.is(later.status, 200)
  t.is(later.headers.get('x-cidcast-source'), 'local')

  // pinned by hand where the distributor placed it: an explicit pin, out of the cache budget
  const cacheUsed = async (): Promise<number> => (await (await fetch(`${a.url}/healthz`)).json() as { capacity: { cacheUsedBytes: number } }).capacity.cacheUsedBytes
  const autoBytes = health.capacity.cacheUsedBytes
  await main.replication.pin({ cid: root, node: a.status().label as string })
  await waitFor(async () => { const r = await row(main, a, root); return r?.state === 'pinned' && !r.auto }, 30_000, 'the explicit pin confirmed')
  await waitFor(async () => await cacheUsed() < autoBytes, 30_000, 'the pin out of the cache budget')

  const status = await (await fetch(`${main.url}/api/v1/distribution`, { headers: bearer(await adminToken(main)) })).json() as { decisions: Array<{ kind: string, node: string, mediaId: string, rule: string, reason: string }> }
  t.like(status.decisions.find(d => d.mediaId === id), { kind: 'place', node: a.status().label, rule: 'fallback' })
  t.regex(status.decisions.find(d => d.mediaId === id)?.reason ?? '', /2 viewers started it through this node/)
  const viewer = await fetch(`${main.url}/api/v1/distribution`, { headers: bearer(await viewerToken(main)) })
  t.is(viewer.status, 403, 'decisions are for admins')
})

test.serial('with demand gone and room needed, an automatic copy goes after its minimum lifetime; an explicit pin stays', async t => {
  // a copy may go after 3 s: the test's hour
  const main = await server(t, { minPlays: 1000, minLifetimeMinutes: 0.05 })
  const cold = await title(t, main, 'Cold (2001)/Cold (2001).mp4')
  const pinned = await title(t, main, 'Kept (2002)/Kept (2002).m4a', 'audio-only-8s')
  const hot = await title(t, main, 'Hot (2003)/Hot (2003).webm', 'vp9-opus-6s')
  const size = async (root: string): Promise<number> => (await main.replication.size(root))?.bytes ?? 0
  // room for one automatic copy, not two; the explicit pin is not counted in the budget
  const a = await node(t, main, { name: 'a', region: 'eu', cacheBytes: Math.max(await size(cold.root), await size(hot.root)) + 1024 })
  await main.replication.pin({ cid: pinned.root, node: a.status().label as string })
  await waitFor(async () => (await row(main, a, pinned.root))?.state === 'pinned', 30_000, 'the explicit pin')

  await play(main, await adminToken(main), cold.id, a)
  await play(main, await viewerToken(main, 'v2'), cold.id, a)
  await pinnedAuto(main, a, cold.root, 'the cold title placed on a')
  // the lifetime counts from the order, on the server's clock, not from when this test saw the pin land
  const placedAt = Date.parse((await row(main, a, cold.root))?.orderedAt ?? '')

  // more viewers than the cold title had: worth more on this node
  for (const name of ['v3', 'v4', 'v5']) await play(main, await viewerToken(main, name), hot.id, a)
  await pinnedAuto(main, a, hot.root, 'the hot title placed once the cold one may go')
  const hotOrderedAt = Date.parse((await row(main, a, hot.root))?.orderedAt ?? '')
  t.true(hotOrderedAt - placedAt >= 3000, `not before the cold copy's minimum lifetime (ordered ${hotOrderedAt - placedAt} ms after it)`)
  await waitFor(async () => (await row(main, a, cold.root)) == null, 30_000, 'the cold copy unpinned')
  t.false(await a.peer.pins.isPinned((await import('multiformats/cid')).CID.parse(cold.root)))
  t.like(await row(main, a, pinned.root), { state: 'pinned', auto: false }, 'the explicit pin is never touched')
  const evicted = main.distributor.status().decisions.find(d => d.kind === 'evict')
  t.like(evicted, { mediaId: cold.id, rule: 'room' })
})

test.serial('a viewer passing 75% of S01E01 on a node finds the first segment of S01E02 local there', async t => {
  const main = await server(t, { minPlays: 1000 })
  const a = await node(t, main, { name: 'a', region: 'eu' })
  const e1 = await title(t, main, 'Show (2020)/Season 01/Show - S01E01.mp4')
  const e2 = (await main.addMedia(await placeClip(await fixture('odd-854x480-6s'), join(t.context.dir, 'library', 'Show (2020)/Season 01/Show - S01E02.mp4')))).id
  await main.metadata.idle()
  t.is((await main.metadata.next(e1.id))?.id, e2, 'the metadata knows what comes next')
  const token = await adminToken(main)
  const url = await play(main, token, e1.id, a)
  const local = async (): Promise<boolean> => {
    const res = await fetch(withToken(`${a.url}/media/${e2}/360p/0.m4s`, await streamTokenOf(main, token, e2)), { headers: { 'Cache-Control': 'only-if-cached' } })
    return res.status === 200
  }
  t.false(await local(), 'nothing of the next episode before')
  t.truthy(url)
  // the player reports its position through the node, as the web UI does
  const report = await fetch(`${a.url}/api/v1/media/${e1.id}/progress`, { method: 'PUT', headers: { ...bearer(token), 'Content-Type': 'application/json' }, body: JSON.stringify({ positionSeconds: 4.8 }) })
  t.is(report.status, 204)
  await waitFor(local, 30_000, 'the first segment of the next episode on the node')
  const decision = main.distributor.status().decisions.find(d => d.kind === 'precache')
  t.like(decision, { mediaId: e2, rule: 'next-episode', node: a.status().label })
})

/** A stream token for `mediaId` (from a play URL through the main server). */
async function streamTokenOf (main: RunningServer, token: string, mediaId: string): Promise<string> {
  return new URL(await play(main, token, mediaId)).searchParams.get('token') ?? ''
}

test.serial('a node that joins takes its share of hot content, in its own region first', async t => {
  const main = await server(t, { minPlays: 1, playsPerReplica: 1, max: 3 })
  const a = await node(t, main, { name: 'a', region: 'eu' })
  const { id, root } = await title(t, main, 'Hit (2010)/Hit (2010).mp4')
  for (const name of ['h1', 'h2', 'h3']) await play(main, await viewerToken(main, name), id)
  await pinnedAuto(main, a, root, 'the hit on the only node')
  t.truthy(main.distributor.status().shortfalls.find(s => s.key === root), 'three copies wanted, one placed: said')
  const us = await node(t, main, { name: 'us', region: 'us' })
  await pinnedAuto(main, us, root, 'the hit on the node that joined')
  const b = await node(t, main, { name: 'b', region: 'eu' })
  await pinnedAuto(main, b, root, 'and on the third')
})

test.serial('what a node claims to have served moves nothing; bad distribution settings are refused at start naming the key', async t => {
  const main = await server(t, { minPlays: 1 })
  const a = await node(t, main, { name: 'a', region: 'eu' })
  const { root } = await title(t, main, 'Quiet (2005)/Quiet (2005).mp4')
  main.distributor.served(a.peer.libp2p.peerId.toString(), [{ root, bytes: Number.MAX_SAFE_INTEGER }])
  await main.distributor.evaluate()
  t.is(await row(main, a, root), undefined)
  t.deepEqual(main.distributor.status().decisions, [])

  await t.throwsAsync(startServer({ dataDir: join(t.context.dir, 'bad'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', distribution: { max: 0 } as unknown as DistributionSettings }), { name: 'InvalidConfigError', message: /distribution\.max must be a whole number from 1 to 64/ })
})
