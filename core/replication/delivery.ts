import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { uriToMultiaddr } from '@multiformats/uri-to-multiaddr'
import { CID } from 'multiformats/cid'
import { nudgeNode } from '../control/index.ts'
import type { ContentIndex, IndexEntry } from './content-index.ts'
import type { NodeRegistry, NodeView } from './registry.ts'
import type { ReplicableMedia } from './types.ts'
import type { HeartbeatRequest, PinOrder, PinOrderMedia, PinProvider } from '../control/index.ts'
import type { Logger } from '../logger.ts'
import type { ProviderSource, RoutingPeer } from '../routing/index.ts'
import type { Libp2p } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'

/*
 * Order delivery, the replication service's link to the nodes: takes each heartbeat's reports into the content
 * index (planning the retry of a failed pin), answers the orders the node should run (repeated until it reports a
 * final state, each pin with fresh providers), nudges nodes on /cidcast/orders/1.0.0 so they need not wait for
 * their next beat, and answers "who holds this root" for the routing API.
 */

export interface OrderDeliveryComponents {
  logger: Logger
  index: Pick<ContentIndex, 'list' | 'report' | 'planRetry'>
  nodes: Pick<NodeRegistry, 'list'>
  libp2p: Pick<Libp2p, 'dialProtocol' | 'getMultiaddrs' | 'peerId'>
  /** The main server's blocks: it is a provider of what it holds. */
  blockstore: Pick<Blockstore, 'has'>
  /** A media by id, with its own directory (`root`): a pin of one of its renditions names it (PinOrder.media). */
  media?: (id: string) => Promise<ReplicableMedia>
}

export interface OrderDeliveryInit {
  /** Orders sent for one wish before a failed pin stays failed. */
  maxAttempts: number
  /** Wait before the first automatic retry; doubled for each next one. */
  retryDelayMs: number
  /** Errors a retry cannot fix. */
  notRetried: ReadonlySet<string>
}

export interface OrderDelivery {
  /** Takes a node's reports; answers the orders it should be running now, oldest first. */
  heartbeat (peerId: string, request: HeartbeatRequest): Promise<PinOrder[]>
  /** Nodes that hold a CID pinned (online, shared), then the main server if it holds it. */
  readonly providers: ProviderSource
  /** Asks online nodes to heartbeat now; failures only cost them their next beat. */
  nudge (nodes: NodeView[], peers: Iterable<string>): void
  /** When `peerId` was last nudged (epoch ms), if ever. */
  nudgedAt (peerId: string): number | undefined
}

/** The error of a pin refused for lack of room: retried when the node has room, not on a timer. */
const FULL_ERROR = 'DataFolderFullError'

/** Most orders in one heartbeat reply; the rest come with the next beats. */
export const MAX_ORDERS_PER_REPLY = 64
/** Providers named in one order, and addresses per provider (keeps replies far below the message limit). */
const MAX_ORDER_PROVIDERS = 4
const MAX_PROVIDER_ADDRS = 8

/** A fresh order id: every order, retries included, has its own. */
export function newOrderId (): string {
  return randomBytes(12).toString('base64url')
}

/** Creates the order delivery of the replication service. */
export function createOrderDelivery (components: OrderDeliveryComponents, init: OrderDeliveryInit): OrderDelivery {
  return new HeartbeatDelivery(components, init)
}

class HeartbeatDelivery implements OrderDelivery {
  private readonly log: Logger
  private readonly nudged = new Map<string, number>()

  constructor (private readonly c: OrderDeliveryComponents, private readonly init: OrderDeliveryInit) {
    this.log = c.logger.child({ name: 'cidcast:replication' })
  }

  async heartbeat (peerId: string, request: HeartbeatRequest): Promise<PinOrder[]> {
    const changed = await this.c.index.report(peerId, request.pins ?? [], request.pinned)
    for (const entry of changed) {
      if (entry.state === 'failed' && entry.wanted === 'pin' && entry.retryAtMs == null) {
        this.log.warn({ peer: peerId, cid: entry.cid, error: entry.error, attempts: entry.attempts }, 'pin failed')
        if (entry.attempts < this.init.maxAttempts && !this.init.notRetried.has(entry.error?.name ?? '')) {
          await this.c.index.planRetry(peerId, entry.cid, Date.now() + this.init.retryDelayMs * 2 ** (entry.attempts - 1))
        }
      } else if (entry.state === 'pinned' && entry.wanted === 'pin' && entry.orderId != null) {
        this.log.info({ peer: peerId, cid: entry.cid, orderId: entry.orderId }, 'pinned')
      }
    }
    await this.retryWhereRoom(peerId, request)
    return await this.ordersFor(peerId)
  }

  /**
   * A pin that failed because the node's folder was full is ordered again once the node's heartbeat shows room for
   * it (not full, and as many bytes free as the root needs when its size is known): a timed retry would only meet
   * the same full disk, and an operator who frees space should not have to order every pin again.
   */
  private async retryWhereRoom (peerId: string, request: HeartbeatRequest): Promise<void> {
    if (request.health.full) return
    for (const entry of this.c.index.list({ peerId })) {
      if (entry.state !== 'failed' || entry.wanted !== 'pin' || entry.retryAtMs != null || entry.error?.name !== FULL_ERROR) continue
      if (entry.attempts >= this.init.maxAttempts || request.capacity.freeBytes < (entry.bytesTotal ?? 0)) continue
      this.log.info({ peer: peerId, cid: entry.cid, freeBytes: request.capacity.freeBytes }, 'the node has room again; the pin it had no room for is ordered again')
      await this.c.index.planRetry(peerId, entry.cid, Date.now())
    }
  }

  readonly providers: ProviderSource = cid => this.providersOf(cid)

  nudge (nodes: NodeView[], peers: Iterable<string>): void {
    for (const peerId of peers) {
      const node = nodes.find(n => n.peerId === peerId)
      if (node == null || node.state !== 'online') continue
      this.nudged.set(peerId, Date.now())
      void nudgeNode(this.c.libp2p, peerIdFromString(peerId)).then(ok => {
        if (!ok) this.log.debug({ node: node.label }, 'nudge not acknowledged; the order waits for the next heartbeat')
      })
    }
  }

  nudgedAt (peerId: string): number | undefined {
    return this.nudged.get(peerId)
  }

  private async * providersOf (cid: CID): AsyncGenerator<RoutingPeer> {
    const forms = new Set([cid.toString(), cid.toV1().toString()])
    const nodes = await this.c.nodes.list()
    for (const form of forms) {
      for (const entry of this.c.index.list({ cid: form })) {
        if (entry.state !== 'pinned') continue
        const node = nodes.find(n => n.peerId === entry.peerId)
        if (node == null || node.state !== 'online' || node.revoked || node.mode !== 'shared') continue
        yield gatewayPeer(node)
      }
    }
    if (await this.c.blockstore.has(cid)) yield this.self()
  }

  /** The orders a node should be running now, oldest first, each with fresh providers. */
  private async ordersFor (peerId: string): Promise<PinOrder[]> {
    const pending = this.c.index.list({ peerId })
      .filter(e => e.orderId != null && ((e.wanted === 'pin' && (e.state === 'queued' || e.state === 'pinning')) || (e.wanted === 'unpin' && e.state === 'unpinning')))
      .sort((a, b) => (a.orderedAtMs ?? 0) - (b.orderedAtMs ?? 0))
      .slice(0, MAX_ORDERS_PER_REPLY)
    if (pending.length === 0) return []
    const nodes = await this.c.nodes.list()
    const orders: PinOrder[] = []
    const media = new Map<string, Promise<ReplicableMedia | undefined>>()
    for (const entry of pending) {
      const order: PinOrder = { cid: entry.cid, action: entry.wanted as 'pin' | 'unpin', orderId: entry.orderId as string }
      if (entry.wanted === 'pin') {
        order.providers = await this.orderProviders(entry.cid, peerId, nodes)
        if (entry.bytesTotal != null) order.bytesTotal = entry.bytesTotal
        if (entry.blocksTotal != null) order.blocksTotal = entry.blocksTotal
        const of = await this.orderMedia(entry, media)
        if (of != null) order.media = of
        if (entry.auto) order.auto = true
      }
      orders.push(order)
    }
    return orders
  }

  /**
   * The media a pin order's root is a rendition of, with the media directory as it is now (each reply asks again, so
   * a directory that grew since the order was made goes out with it). Only when that directory links this very root
   * under the rendition's profile: a root of an older encoding, or of a media gone, is pinned as a plain root.
   */
  private async orderMedia (entry: IndexEntry, seen: Map<string, Promise<ReplicableMedia | undefined>>): Promise<PinOrderMedia | undefined> {
    const { mediaId, profile } = entry
    if (mediaId == null || profile == null || this.c.media == null) return undefined
    let lookup = seen.get(mediaId)
    if (lookup == null) {
      lookup = this.c.media(mediaId).catch(err => {
        this.log.debug({ err, media: mediaId }, 'a pin order goes out without its media')
        return undefined
      })
      seen.set(mediaId, lookup)
    }
    const media = await lookup
    if (media?.root == null || !media.renditions.some(r => r.profile === profile && r.root === entry.cid)) return undefined
    return { id: media.id, profile, root: media.root }
  }

  /** Online nodes that hold the root pinned (not the one asking), then the main server if it holds it. */
  private async orderProviders (cid: string, asking: string, nodes: NodeView[]): Promise<PinProvider[]> {
    const providers: PinProvider[] = []
    for (const entry of this.c.index.list({ cid })) {
      if (entry.peerId === asking || entry.state !== 'pinned') continue
      const node = nodes.find(n => n.peerId === entry.peerId)
      if (node == null || node.state !== 'online' || node.revoked) continue
      const provider: PinProvider = { peerId: node.peerId, addrs: node.addresses.slice(0, MAX_PROVIDER_ADDRS) }
      // a local-only node serves nobody else over HTTP (its gateway listens on loopback)
      if (node.mode === 'shared') provider.gateway = node.url
      providers.push(provider)
    }
    const held = await Promise.resolve(this.c.blockstore.has(CID.parse(cid))).catch(() => false)
    const list = providers.slice(0, held ? MAX_ORDER_PROVIDERS - 1 : MAX_ORDER_PROVIDERS)
    if (held) {
      const self = this.self()
      // no gateway here: the server cannot know the URL nodes reach it by, and each node has it (core/edge/pinner.ts)
      list.push({ peerId: self.peerId, addrs: self.addrs.slice(0, MAX_PROVIDER_ADDRS) })
    }
    return list
  }

  private self (): RoutingPeer {
    return { peerId: this.c.libp2p.peerId.toString(), addrs: this.c.libp2p.getMultiaddrs().map(String), protocols: ['transport-bitswap'] }
  }
}

/**
 * A shared node as a provider record: its libp2p addresses for bitswap and its gateway as an `/http` multiaddr
 * (`transport-ipfs-gateway-http`), the form stock Helia's trustless-gateway broker and the pinner read.
 */
function gatewayPeer (node: Pick<NodeView, 'peerId' | 'addresses' | 'url'>): RoutingPeer {
  let gateway: string | undefined
  try {
    gateway = uriToMultiaddr(node.url).toString()
  } catch {}
  return gateway == null
    ? { peerId: node.peerId, addrs: node.addresses, protocols: ['transport-bitswap'] }
    : { peerId: node.peerId, addrs: [...node.addresses, gateway], protocols: ['transport-bitswap', 'transport-ipfs-gateway-http'] }
}
