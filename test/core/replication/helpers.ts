import { randomBytes } from 'node:crypto'
import { unixfs } from '@helia/unixfs'
import { MediaNotFoundError } from '../../../core/errors.ts'
import { createContentIndex, createReplication, createReplicationGoals } from '../../../core/replication/index.ts'
import { dagSizeOf } from '../../../core/replication/dag-size.ts'
import { handleOrderNudges } from '../../../core/control/index.ts'
import { IMPORT_OPTIONS } from '../../../core/ipfs/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import { writeDirectory } from '../../../core/media/rendition-dag.ts'
import { CAPACITY, HEALTH, startEdge, startMain } from '../control/helpers.ts'
import type { ContentIndex, PrepareRendition, ReplicableMedia, Replication, ReplicationInit } from '../../../core/replication/index.ts'
import type { HeartbeatReply, NodeCapacity, PinOrder, PinReport } from '../../../core/control/index.ts'
import type { Peer } from '../../../core/net/peer.ts'
import type { Cleanup, EdgeNode, Main } from '../control/helpers.ts'
import type { CID } from 'multiformats/cid'

/** A main server's federation parts with the content index and replication wired in, as node/server.ts does. */
export interface ReplicationMain extends Main {
  index: ContentIndex
  replication: Replication
  /** Media the replication resolves (tests fill it). */
  media: Map<string, ReplicableMedia>
}

/** `startMain` with the content index and replication wired in; `media` starts empty. */
export async function startReplicationMain (cleanup: Cleanup, swarmKey: Uint8Array, database: string, init: ReplicationInit = {}, prepare?: PrepareRendition): Promise<ReplicationMain> {
  // the registry comes first (replication reads it) and reaches replication once it exists, as in node/server.ts
  const late: { replication?: Replication } = {}
  const main = await startMain(cleanup, swarmKey, database, {}, { orders: async (p, r) => await late.replication?.heartbeat(p, r) ?? [] })
  const { peer, catalog, registry } = main
  const logger = silentLogger()
  const media = new Map<string, ReplicableMedia>()
  const index = createContentIndex({ repository: catalog.repositories.contentIndex })
  const replication = createReplication({
    logger,
    index,
    goals: createReplicationGoals({ repository: catalog.repositories.goals }),
    preparations: catalog.repositories.preparations,
    nodes: registry,
    libp2p: peer.libp2p,
    blockstore: peer.blockstore,
    media: async id => {
      const found = media.get(id)
      if (found == null) throw new MediaNotFoundError(`no media ${id}`)
      return found
    },
    prepare
  }, { heartbeatMs: 300, sweepMs: 50, retryDelayMs: 100, ...init })
  late.replication = replication
  await replication.start()
  cleanup.push(async () => { await replication.stop() })
  return { ...main, index, replication, media }
}

/** A directory of a 2.5 MiB file (three 1 MiB chunks) and a small one, in `peer`'s blockstore and pinned there. */
export async function addRoot (peer: Peer, bytes = 2.5 * 2 ** 20): Promise<CID> {
  const fs = unixfs(peer)
  const big = await fs.addBytes(randomBytes(bytes), { ...IMPORT_OPTIONS })
  const small = await fs.addBytes(randomBytes(1000), { ...IMPORT_OPTIONS })
  const root = await writeDirectory(peer.blockstore, [
    { name: 'index.m3u8', cid: small, size: 1000 },
    { name: 'seg-0.m4s', cid: big, size: (await dagSizeOf(peer.blockstore, big))?.bytes ?? bytes }
  ])
  for await (const cid of peer.pins.add(root)) void cid
  return root
}

/** A registered fake node: a real peer and control client, heartbeating by hand with whatever it is told. */
export interface FakeNode extends EdgeNode {
  label: string
  /** Sends one heartbeat; answers the orders of the reply. */
  beat: (fields?: { pins?: PinReport[], pinned?: string[], capacity?: NodeCapacity, full?: boolean }) => Promise<PinOrder[]>
  /** Nudges received so far. */
  nudges: () => number
}

export async function startFakeNode (cleanup: Cleanup, swarmKey: Uint8Array, main: Pick<Main, 'peer'>, name: string, capacity: NodeCapacity = CAPACITY): Promise<FakeNode> {
  // startEdge only reads the main server's peer
  const edge = await startEdge(cleanup, swarmKey, main as Main)
  const reply = await edge.client.register(edge.request(name, { capacity }))
  let nudges = 0
  const stop = await handleOrderNudges({ libp2p: edge.peer.libp2p, logger: silentLogger(), fromServer: peer => peer.equals(main.peer.libp2p.peerId), onNudge: () => { nudges++ } })
  cleanup.push(stop)
  return {
    ...edge,
    label: reply.label,
    nudges: () => nudges,
    beat: async (fields = {}) => {
      const answer: HeartbeatReply = await edge.client.heartbeat({
        capacity: fields.capacity ?? capacity,
        health: { ...HEALTH, full: fields.full ?? false },
        pinned: fields.pinned ?? [],
        ...(fields.pins != null ? { pins: fields.pins } : {})
      })
      return answer.orders ?? []
    }
  }
}

/** Runs a pin order the way a node does: pins over bitswap from whoever has the blocks, counting blocks and bytes. */
export async function runPin (node: FakeNode, order: PinOrder): Promise<PinReport> {
  const { CID } = await import('multiformats/cid')
  let blocksDone = 0
  let bytesDone = 0
  for await (const cid of node.peer.pins.add(CID.parse(order.cid), { signal: AbortSignal.timeout(20_000) })) {
    blocksDone++
    for await (const chunk of node.peer.blockstore.get(cid)) bytesDone += chunk.byteLength
  }
  return { cid: order.cid, orderId: order.orderId, state: 'pinned', blocksDone, bytesDone, blocksTotal: blocksDone, bytesTotal: bytesDone }
}

/** A fake node's loop, as a real node's agent and pinner run it: beat, run new orders, report them until stopped. */
export function autopilot (node: FakeNode, intervalMs = 100): { stop: () => Promise<void> } {
  const reports = new Map<string, PinReport>()
  const state = { stopped: false }
  const run = async (order: PinOrder): Promise<void> => {
    const { CID } = await import('multiformats/cid')
    try {
      if (order.action === 'unpin') {
        reports.set(order.orderId, { cid: order.cid, orderId: order.orderId, state: 'unpinning', blocksDone: 0, bytesDone: 0 })
        for await (const cid of node.peer.pins.rm(CID.parse(order.cid))) void cid
        reports.set(order.orderId, { cid: order.cid, orderId: order.orderId, state: 'unpinned', blocksDone: 0, bytesDone: 0 })
        return
      }
      reports.set(order.orderId, { cid: order.cid, orderId: order.orderId, state: 'pinning', blocksDone: 0, bytesDone: 0 })
      reports.set(order.orderId, await runPin(node, order))
    } catch (err) {
      const e = err as Error
      reports.set(order.orderId, { cid: order.cid, orderId: order.orderId, state: 'failed', blocksDone: 0, bytesDone: 0, error: { name: /^[A-Za-z]+$/.test(e.name) ? e.name : 'Error', message: e.message.slice(0, 500) } })
    }
  }
  const loop = (async () => {
    while (!state.stopped) {
      const pinned: string[] = []
      for await (const pin of node.peer.pins.ls()) pinned.push(pin.cid.toString())
      try {
        for (const order of await node.beat({ pins: [...reports.values()], pinned })) {
          if (!reports.has(order.orderId)) {
            reports.set(order.orderId, { cid: order.cid, orderId: order.orderId, state: 'queued', blocksDone: 0, bytesDone: 0 })
            void run(order)
          }
        }
      } catch {
        // the main server went away: a real node re-registers; tests that stop the server stop this loop first
      }
      await new Promise(resolve => setTimeout(resolve, intervalMs))
    }
  })()
  return { stop: async () => { state.stopped = true; await loop } }
}
