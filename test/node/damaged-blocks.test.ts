import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CarReader } from '@ipld/car'
import anyTest from 'ava'
import { NextToLast } from 'blockstore-fs/sharding'
import { CID } from 'multiformats/cid'
import { fixture } from '../../fixtures/media.ts'
import { hashMatches } from '../../core/ipfs/index.ts'
import { startNode } from '../../node/cdn-node.ts'
import { startServer } from '../../node/server.ts'
import { adminToken, bearer } from '../helpers/auth.ts'
import { cidcast } from '../helpers/spawn.ts'
import { rootToken, withToken } from '../helpers/stream-url.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { RunningNode, StartNodeOptions } from '../../node/cdn-node.ts'
import type { RunningServer } from '../../node/server.ts'
import type { ExecutionContext, TestFn } from 'ava'

/*
 * Issue 12, item 1: a block damaged on disk is never served. Real main servers and CDN nodes in this process, real
 * block files flipped on disk, real restarts (a new process's view: nothing verified yet, nothing cached). Every
 * answer is either the right bytes or an error, never a 200 with the damaged bytes; a node falls back the way a miss
 * does, the main server fetches a good copy from a node that holds the block, and the file is whole again after.
 */

interface World {
  dir: string
  remove: () => Promise<void>
  running: Array<{ stop: () => Promise<void> }>
}

const test = anyTest as TestFn<World>
const PROFILE = '720p'
const SERVER_DIR = 'server'

test.beforeEach(async t => {
  const dir = await tempDir('cidcast-damaged-')
  t.context = { dir: dir.path, remove: dir.remove, running: [] }
})

test.afterEach.always(async t => {
  for (const part of t.context.running.reverse()) await part.stop().catch(() => {})
  await t.context.remove()
})

/** A main server on `<dir>/server` (a restart reuses the folder); stopped after the test. */
async function server (t: ExecutionContext<World>): Promise<RunningServer> {
  const running = await startServer({ dataDir: join(t.context.dir, SERVER_DIR), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: 1, logLevel: 'silent' })
  t.context.running.push(running)
  return running
}

/** A node on `<dir>/<name>` (a restart reuses the folder), registered with `origin`; stopped after the test. */
async function node (t: ExecutionContext<World>, name: string, origin: RunningServer, options: StartNodeOptions = {}): Promise<RunningNode> {
  const running = await startNode({
    dataDir: join(t.context.dir, name),
    swarmKeyFile: join(t.context.dir, SERVER_DIR, 'swarm.key'),
    server: origin.url,
    listen: '127.0.0.1:0',
    p2pListen: ['/ip4/127.0.0.1/tcp/0'],
    logLevel: 'silent',
    minBackoffMs: 100,
    maxBackoffMs: 500,
    name,
    // each way of asking must meet the damaged block itself: read-ahead would fetch the next segments first
    readAheadSegments: 0,
    ...options
  })
  t.context.running.push(running)
  await waitFor(() => running.status().state === 'registered', 20_000, `registration of ${name} (last error ${JSON.stringify(running.status().error)})`)
  return running
}

/** The main server's admin API token as a header: its `/media` and `/ipfs` answer no request without a credential. */
async function asAdmin (origin: RunningServer): Promise<Record<string, string>> {
  return bearer(await adminToken(origin))
}

async function restart<T extends { stop: () => Promise<void> }> (t: ExecutionContext<World>, part: T, start: () => Promise<T>): Promise<T> {
  await part.stop()
  t.context.running.splice(t.context.running.indexOf(part), 1)
  return await start()
}

interface Segment {
  path: string
  cid: CID
  bytes: Buffer
}

/** Adds a 10 s clip and makes its 720p rendition (copied, 5 segments of one ~700 KB block each); its segments. */
async function rendition (origin: RunningServer): Promise<{ id: string, root: CID, segments: Segment[] }> {
  const media = await origin.addMedia(await fixture('h264-aac-10s'))
  const job = await origin.library.job(media.id, PROFILE)
  await origin.transcoder.complete(job)
  const root = await origin.library.finish(job)
  const auth = await asAdmin(origin)
  const playlist = await (await fetch(`${origin.url}/media/${media.id}/${PROFILE}/index.m3u8`, { headers: auth })).text()
  const segments: Segment[] = []
  for (const name of playlist.split('\n').filter(l => l.endsWith('.m4s'))) {
    const res = await get(`${origin.url}/media/${media.id}/${PROFILE}/${name}`, auth)
    segments.push({ path: `/media/${media.id}/${PROFILE}/${name}`, cid: CID.parse(res.etag?.replaceAll('"', '') ?? ''), bytes: res.body })
  }
  if (segments.length < 5 || segments.some(s => s.cid.code !== 0x55)) throw new Error('expected 5 segments of one raw block each')
  return { id: media.id, root, segments }
}

interface Answer {
  status: number
  source: string | null
  etag: string | null
  body: Buffer
}

async function get (url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) })
  return { status: res.status, source: res.headers.get('x-cidcast-source'), etag: res.headers.get('etag'), body: Buffer.from(await res.arrayBuffer()) }
}

/** Flips one byte in the middle of the block's file under `<data>/blocks`. */
async function damage (dataDir: string, cid: CID): Promise<void> {
  const path = blockFile(dataDir, cid)
  const bytes = await readFile(path)
  bytes[bytes.byteLength >> 1] ^= 0xff
  await writeFile(path, bytes)
}

function blockFile (dataDir: string, cid: CID): string {
  const { dir, file } = new NextToLast().encode(cid)
  return join(dataDir, 'blocks', dir, file)
}

/** Whether the block's file holds bytes that hash to its CID. */
async function wholeOnDisk (dataDir: string, cid: CID): Promise<boolean> {
  const bytes = await readFile(blockFile(dataDir, cid)).catch(() => undefined)
  return bytes != null && await hashMatches(cid, bytes) === true
}

/** A stream token for the media and every segment's block as a root of its own (a node serves `/ipfs` only under one). */
function segmentsToken (origin: RunningServer, id: string, segments: Segment[]): string {
  return rootToken(origin, segments.map(s => s.cid.toString()), id)
}

/** The five ways a segment's bytes are asked for, one segment each, checked against the good bytes. */
async function askEveryWay (t: ExecutionContext<World>, base: string, segments: Segment[], token: string): Promise<Answer[]> {
  const [media, path, raw, car, range] = segments
  const answers = [
    await get(withToken(base + media.path, token)),
    await get(withToken(`${base}/ipfs/${path.cid.toString()}`, token)),
    await get(withToken(`${base}/ipfs/${raw.cid.toString()}?format=raw`, token)),
    await get(withToken(`${base}/ipfs/${car.cid.toString()}?format=car`, token)),
    await get(withToken(base + range.path, token), { Range: 'bytes=1000-50999' })
  ]
  const names = ['segment', '/ipfs/{cid}', '?format=raw', '?format=car', 'Range']
  answers.forEach((answer, i) => {
    if (answer.status >= 400) return
    if (i === 3) return
    const good = i === 4 ? range.bytes.subarray(1000, 51_000) : segments[i].bytes
    t.true(answer.body.equals(good), `${names[i]} answered ${answer.status} with bytes that are not the block's`)
  })
  if (answers[3].status < 400) {
    const reader = await CarReader.fromBytes(answers[3].body)
    for await (const block of reader.blocks()) t.true(await hashMatches(block.cid, block.bytes), `the CAR carries ${block.cid.toString()} with other bytes`)
    const served = await reader.get(car.cid)
    t.true(served != null && Buffer.from(served.bytes).equals(car.bytes), 'the CAR carries the segment\'s good bytes')
  }
  return answers
}

test.serial('a node restarted over damaged blocks never serves them: every way of asking gets the good bytes from the origin, and the files heal', async t => {
  const origin = await server(t)
  const { id, segments, root } = await rendition(origin)
  let cdn = await node(t, 'alpha', origin)
  await cdn.pin(root)
  const dataDir = join(t.context.dir, 'alpha')
  for (const s of segments) await damage(dataDir, s.cid)
  cdn = await restart(t, cdn, async () => await node(t, 'alpha', origin))

  const token = segmentsToken(origin, id, segments)
  const answers = await askEveryWay(t, cdn.url, segments, token)
  t.deepEqual(answers.map(a => a.status), [200, 200, 200, 200, 206])
  t.deepEqual(answers.map(a => a.source), ['origin', 'origin', 'origin', 'origin', 'origin'], 'each damaged block was a miss')
  t.is(answers[0].etag, `"${segments[0].cid.toString()}"`)
  for (const s of segments) t.true(await wholeOnDisk(dataDir, s.cid), `${s.path} is whole on disk again`)
  t.is((await readdir(join(dataDir, 'quarantine'))).length, segments.length, 'the damaged files are kept aside')
  const health = await (await fetch(`${cdn.url}/healthz`)).json() as { integrity: { damagedBlocks: number } }
  t.is(health.integrity.damagedBlocks, segments.length)
  t.regex(await (await fetch(`${cdn.url}/metrics`)).text(), new RegExp(`^cidcast_blocks_damaged_total ${segments.length}$`, 'm'))
  // whole again: served locally from now on
  t.is((await get(withToken(cdn.url + segments[0].path, token))).source, 'local')
})

test.serial('the main server restarted over damaged blocks fetches good copies from a node that holds them; a segment nobody holds is made again', async t => {
  let origin = await server(t)
  const { id, segments, root } = await rendition(origin)
  const cdn = await node(t, 'holder', origin)
  await cdn.pin(root)
  // a rendition nobody else holds: its segment has no good copy anywhere
  const lonely = await origin.library.job(id, '360p')
  await origin.transcoder.complete(lonely)
  await origin.library.finish(lonely)
  const alone = await get(`${origin.url}/media/${id}/360p/1.m4s`, await asAdmin(origin))
  const aloneCid = CID.parse(alone.etag?.replaceAll('"', '') ?? '')
  const serverDir = join(t.context.dir, SERVER_DIR)
  for (const s of [...segments, { cid: aloneCid }]) await damage(serverDir, s.cid)

  origin = await restart(t, origin, async () => await server(t))
  // the node comes back to the restarted server (its HTTP port moved): once registered, it is a connected holder
  await restart(t, cdn, async () => await node(t, 'holder', origin))
  const answers = await askEveryWay(t, origin.url, segments, segmentsToken(origin, id, segments))
  t.deepEqual(answers.map(a => a.status), [200, 200, 200, 200, 206])
  for (const s of segments) t.true(await wholeOnDisk(serverDir, s.cid), `${s.path} is whole on the main server's disk again`)

  // nobody else holds it: after waiting for a copy in vain, the segment is forgotten and made again
  const remade = await get(`${origin.url}/media/${id}/360p/1.m4s`, await asAdmin(origin))
  t.is(remade.status, 200)
  const remadeCid = CID.parse(remade.etag?.replaceAll('"', '') ?? '')
  t.true(await hashMatches(remadeCid, remade.body), 'the answer is the bytes of its Etag')
  const again = await waitFor(async () => {
    const rendition = (await origin.library.get(id)).renditions.find(r => r.profile === '360p')
    return rendition?.state === 'complete' && rendition
  }, 30_000, 'the 360p rendition to be complete again')
  t.truthy(again.root)
  t.regex(await (await fetch(`${origin.url}/metrics`)).text(), /^cidcast_blocks_repaired_total 5$/m)
})

test.serial('cidcast pin verify runs on the main server too: a damaged segment is found, and fetched again from a node', async t => {
  const origin = await server(t)
  const { segments, root } = await rendition(origin)
  const cdn = await node(t, 'delta', origin)
  await cdn.pin(root)
  const segment = segments[2]
  await damage(join(t.context.dir, SERVER_DIR), segment.cid)

  const verify = await cidcast('pin', 'verify', '--repair', '--node', origin.url)
  t.is(verify.code, 0, verify.stdout + verify.stderr)
  t.regex(verify.stdout, new RegExp(`^corrupt\\t${segment.cid.toString()}\\t${root.toString()}\\trepaired$`, 'm'))
  t.true(await wholeOnDisk(join(t.context.dir, SERVER_DIR), segment.cid))
  const again = await get(origin.url + segment.path, await asAdmin(origin))
  t.true(again.status === 200 && again.body.equals(segment.bytes))
})

test.serial('cidcast pin verify --repair drops the cached copy of a block it finds damaged, without a restart', async t => {
  const origin = await server(t)
  const { id, segments, root } = await rendition(origin)
  const cdn = await node(t, 'beta', origin)
  await cdn.pin(root)
  const [segment] = segments
  const token = segmentsToken(origin, id, segments)
  t.is((await get(withToken(cdn.url + segment.path, token))).source, 'local')
  await damage(join(t.context.dir, 'beta'), segment.cid)

  const verify = await cidcast('pin', 'verify', '--repair', '--node', cdn.url)
  t.is(verify.code, 0, verify.stdout + verify.stderr)
  t.regex(verify.stdout, new RegExp(`^corrupt\\t${segment.cid.toString()}\\t${root.toString()}\\trepaired$`, 'm'))
  const hashed = await hashedBlocks(cdn)
  const again = await get(withToken(cdn.url + segment.path, token))
  t.is(again.status, 200)
  t.true(again.body.equals(segment.bytes))
  t.is(await hashedBlocks(cdn), hashed + 1, 'the block was read from disk again (and hashed), not taken from memory')
})

test.serial('the scrub finds a block damaged after it was served, by itself, and fetches a good copy', async t => {
  const origin = await server(t)
  const { id, segments, root } = await rendition(origin)
  const cdn = await node(t, 'gamma', origin, { scrubIntervalSeconds: 1 })
  await cdn.pin(root)
  const [segment] = segments
  const token = segmentsToken(origin, id, segments)
  t.is((await get(withToken(cdn.url + segment.path, token))).status, 200)
  const dataDir = join(t.context.dir, 'gamma')
  await damage(dataDir, segment.cid)

  const health = await waitFor(async () => {
    const { integrity } = await (await fetch(`${cdn.url}/healthz`)).json() as { integrity: { scrub: { totals: { broken: number, repaired: number } } } }
    return integrity.scrub.totals.repaired >= 1 && integrity
  }, 30_000, 'the scrub to find and repair the damaged block')
  t.is(health.scrub.totals.broken, 1)
  t.true(await wholeOnDisk(dataDir, segment.cid))
  const again = await get(withToken(cdn.url + segment.path, token))
  t.true(again.status === 200 && again.body.equals(segment.bytes))
  t.regex(await (await fetch(`${cdn.url}/metrics`)).text(), /^cidcast_scrub_broken_blocks_total 1$/m)
})

async function hashedBlocks (cdn: RunningNode): Promise<number> {
  const text = await (await fetch(`${cdn.url}/metrics`)).text()
  return Number(/^cidcast_blocks_hashed_total (\d+)$/m.exec(text)?.[1])
}
