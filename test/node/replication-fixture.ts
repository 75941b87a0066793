import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import anyTest from 'ava'
import { IMPORT_OPTIONS } from '../../core/ipfs/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { createPeer } from '../../core/net/peer.ts'
import { generateSwarmKey, parseSwarmKey } from '../../core/config/index.ts'
import { startNode } from '../../node/cdn-node.ts'
import { publicMediaFolder } from '../helpers/stream-url.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { PinProvider, PinReport } from '../../core/control/index.ts'
import type { Peer } from '../../core/net/peer.ts'
import type { RunningNode, StartNodeOptions } from '../../node/cdn-node.ts'
import type { ExecutionContext, TestFn } from 'ava'
import type { CID } from 'multiformats/cid'

/*
 * The world of the node-side replication tests (replication.test.ts, replication-upkeep.test.ts): real nodes and
 * real Helia peers over loopback in one private network. The nodes have no main server (their server URL answers
 * nothing), so their only peers are the ones an order names: which peer served what is never in doubt. Orders are
 * handed to the pinner as a heartbeat reply would.
 */

/** A test's folder, its swarm key, and what it started (stopped after it, newest first). */
export interface ReplicationContext {
  dir: string
  remove: () => Promise<void>
  swarmKeyFile: string
  swarmKey: Uint8Array
  running: Array<{ stop: () => Promise<void> }>
}

export const MIB = 1024 * 1024
/** A server URL nobody answers at: the nodes keep trying to register, in the background, harmlessly. */
const NO_SERVER = 'http://127.0.0.1:9'

/**
 * The ava `test` of a replication test file: each test gets a fresh folder with a new swarm key, and what it started
 * is stopped (newest first) and the folder removed after it.
 */
export function replicationTest (): TestFn<ReplicationContext> {
  const test = anyTest as TestFn<ReplicationContext>
  test.beforeEach(async t => {
    const dir = await tempDir('cidcast-replication-')
    const text = generateSwarmKey()
    const swarmKeyFile = join(dir.path, 'swarm.key')
    await writeFile(swarmKeyFile, text)
    t.context = { dir: dir.path, remove: dir.remove, swarmKeyFile, swarmKey: parseSwarmKey(text), running: [] }
  })
  test.afterEach.always(async t => {
    for (const part of t.context.running.reverse()) await part.stop().catch(() => {})
    await t.context.remove()
  })
  return test
}

let count = 0

/** A plain Helia peer in the same private network holding `mib` MiB of random bytes as one UnixFS file. */
export async function holder (t: ExecutionContext<ReplicationContext>, mib: number): Promise<{ peer: Peer, root: CID, bytes: Uint8Array }> {
  const peer = await createPeer({ logger: silentLogger() }, { swarmKey: t.context.swarmKey })
  t.context.running.push({ stop: async () => { await peer.stop() } })
  const bytes = randomBytes(mib * MIB)
  const root = await unixfs(peer).addBytes(bytes, IMPORT_OPTIONS)
  return { peer, root, bytes }
}

/** A CDN node with no main server, in a folder of its own unless `options` names one; stopped after the test. */
export async function node (t: ExecutionContext<ReplicationContext>, options: StartNodeOptions = {}): Promise<RunningNode> {
  count++
  const dataDir = options.dataDir ?? join(t.context.dir, `node-${count}`)
  // no main server gives these nodes keys or credentials: their gateways serve each other as public media
  await publicMediaFolder(dataDir)
  const running = await startNode({
    dataDir,
    swarmKeyFile: t.context.swarmKeyFile,
    server: NO_SERVER,
    listen: '127.0.0.1:0',
    p2pListen: ['/ip4/127.0.0.1/tcp/0'],
    logLevel: 'silent',
    minBackoffMs: 1000,
    maxBackoffMs: 1000,
    name: `replica ${count}`,
    ...options,
    pinner: { stallTimeoutMs: 15_000, retryDelayMs: 50, maxAttempts: 2, ...options.pinner }
  })
  t.context.running.push(running)
  return running
}

/** `peer` as an order names a provider. */
export function providerOf (peer: Peer): PinProvider {
  return { peerId: peer.libp2p.peerId.toString(), addrs: peer.libp2p.getMultiaddrs().map(String) }
}

/** The node's report on `orderId`, as its next heartbeat would carry it. */
export function report (cdn: RunningNode, orderId: string): PinReport | undefined {
  return cdn.pinner.reports().find(r => r.orderId === orderId)
}

/** Waits until the order is pinned, failed or unpinned, and returns that report. */
export async function settled (cdn: RunningNode, orderId: string, timeoutMs = 20_000): Promise<PinReport> {
  return await waitFor(() => {
    const r = report(cdn, orderId)
    return r != null && ['pinned', 'failed', 'unpinned'].includes(r.state) && r
  }, timeoutMs, `order ${orderId} to settle (now ${JSON.stringify(report(cdn, orderId))})`)
}

/** Whether the node's Helia pins `root`. */
export async function isPinned (cdn: RunningNode, root: CID): Promise<boolean> {
  for await (const pin of cdn.peer.pins.ls()) if (pin.cid.equals(root)) return true
  return false
}

/** The file's bytes as the node holds them, read offline (nothing may come from the network). */
export async function localBytes (cdn: RunningNode, root: CID): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of unixfs(cdn.peer).cat(root, { offline: true })) chunks.push(chunk)
  return Buffer.concat(chunks)
}
