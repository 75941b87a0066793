import { randomBytes } from 'node:crypto'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import anyTest from 'ava'
import { IMPORT_OPTIONS } from '../../core/ipfs/import-profile.ts'
import { startNode } from '../../node/cdn-node.ts'
import { startServer } from '../../node/server.ts'
import { TEST_ACCOUNTS } from '../helpers/auth.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { RunningNode } from '../../node/cdn-node.ts'
import type { RunningServer } from '../../node/server.ts'
import type { TestFn } from 'ava'

/*
 * A CDN node's IPNS record as the main server keeps it: an idle node does not republish at every heartbeat (issue 9,
 * item 6), while its heartbeats keep carrying the live figures; a pin does publish.
 */

interface Context {
  server: RunningServer
  cdn: RunningNode
  dir: string
  remove: () => Promise<void>
}

const test = anyTest as TestFn<Context>

/** Fast heartbeats: many of them in a few seconds. */
const HEARTBEAT_SECONDS = 0.25

test.before(async t => {
  const dir = await tempDir('cidcast-node-ipns-')
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: HEARTBEAT_SECONDS, logLevel: 'silent', accounts: TEST_ACCOUNTS })
  t.context = { server, dir: dir.path, remove: dir.remove } as Context
  // no --quota: the node's quota is what its disk could hold, so it moves whenever anything on the disk changes
  t.context.cdn = await startNode({
    dataDir: join(dir.path, 'node'),
    swarmKeyFile: join(dir.path, 'server', 'swarm.key'),
    server: server.url,
    name: 'idle',
    listen: '127.0.0.1:0',
    p2pListen: ['/ip4/127.0.0.1/tcp/0'],
    logLevel: 'silent',
    minBackoffMs: 100,
    maxBackoffMs: 500
  })
})

test.after.always(async t => {
  await t.context.cdn?.stop()
  await t.context.server?.stop()
  await t.context.remove?.()
})

/** The sequence of the node's record at the main server, once there is one. */
async function sequence (t: { context: Context }): Promise<bigint> {
  return await waitFor(async () => (await t.context.server.ipns.get(t.context.cdn.ipns))?.sequence, 20_000, 'the node\'s IPNS record')
}

/** Waits until the node has sent `count` more heartbeats. */
async function heartbeats (t: { context: Context }, count: number): Promise<void> {
  let last = t.context.cdn.status().lastHeartbeatAt
  let seen = 0
  await waitFor(() => {
    const now = t.context.cdn.status().lastHeartbeatAt
    if (now !== last) { last = now; seen++ }
    return seen >= count
  }, 10_000, `${count} heartbeats`)
}

/** The free bytes the main server last heard from the node in a heartbeat. */
async function heardFree (t: { context: Context }): Promise<number | undefined> {
  const row = (await t.context.server.registry.list()).find(n => n.peerId === t.context.cdn.peer.libp2p.peerId.toString())
  return row?.capacity.freeBytes
}

test.serial('an idle node keeps its IPNS sequence across many heartbeats while its heartbeats carry the new free space', async t => {
  const { cdn, dir } = t.context
  await waitFor(() => cdn.status().state === 'registered', 20_000, 'registration')
  const first = await sequence(t)
  const heardBefore = await waitFor(async () => await heardFree(t), 10_000, 'a heartbeat with capacity')
  // the disk's free space wiggles: a file written and removed next to the node's blocks, again and again, for at
  // least 20 heartbeats and until one carries a new figure (the node measures its folder at most every 10 s)
  const scratch = join(dir, 'node', 'wiggle.bin')
  let round = 0
  await waitFor(async () => {
    if (++round % 2 === 1) await writeFile(scratch, randomBytes(4 * 1024 * 1024))
    else await rm(scratch, { force: true })
    await heartbeats(t, 1)
    const heard = await heardFree(t)
    return round >= 20 && heard !== heardBefore
  }, 40_000, 'a heartbeat with another free space')
  // the node has seen the new figures too: what it would publish, it would have published by now
  await heartbeats(t, 4)
  t.is(await sequence(t), first, 'no republish for new figures alone')
  t.is(cdn.status().state, 'registered')
})

test.serial('a pin publishes a record with the next sequence naming the new root', async t => {
  const { server, cdn } = t.context
  const before = await sequence(t)
  const root = await unixfs(server.peer).addBytes(randomBytes(300 * 1024), IMPORT_OPTIONS)
  for await (const block of server.peer.pins.add(root)) void block
  await cdn.pin(root)
  const after = await waitFor(async () => {
    const record = await server.ipns.get(cdn.ipns)
    return record != null && record.sequence > before && record
  }, 20_000, 'a new record')
  t.is(after.sequence, before + 1n)
  t.regex(after.value, /^\/ipfs\//)
})
