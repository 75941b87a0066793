import { EventEmitter } from 'node:events'
import { peerIdFromString } from '@libp2p/peer-id'
import { clampServed, CONTROL_VERSION, CONTROL_VERSION_MIN, ControlVersionError, createControlServer, findNode, IpnsMismatchError, ipnsNameOf, labelFromName, MAX_PREFETCH_ORDERS, NodeNotRegisteredError, NodeRevokedError, uniqueLabel, UnknownOwnerError } from '../control/index.ts'
import type { ControlHandler, ControlServer, HeartbeatReply, MainServerAddress, HeartbeatRequest, NodeCapacity, NodeHealth, NodeMode, PinOrder, PrefetchOrder, RegisterReply, RegisterRequest, RevocationGater, ServedReport, StreamAccessGrant } from '../control/index.ts'
import { systemClock } from '../clock.ts'
import { CIDCAST_VERSION } from '../version.ts'
import type { NodeRecord, NodeRepository } from '../catalog/index.ts'
import type { Clock } from '../clock.ts'
import type { Logger } from '../logger.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'

/** A root a node fetched by fallback counts as in its cache this long (its kept files live at least an hour). */
const FETCHED_MS = 24 * 3_600_000
/** Roots remembered per node as fetched. */
const MAX_FETCHED_ROOTS = 4096
/** Seconds between heartbeats by default. */
export const HEARTBEAT_INTERVAL_MS = 15_000
/** Heartbeats a node may miss before it is marked offline. */
export const MISSED_BEATS = 3
/** The DNS zone nodes are named in by default. */
export const DEFAULT_ZONE = 'cidcast.internal'

/** A registered node, as the API, the CLI and the DNS server see it. */
export interface NodeView {
  name: string
  label: string
  /** `<label>.<zone>`; the DNS server answers for it only while the node is online, shared and not revoked. */
  dnsName: string
  ipns: string
  peerId: string
  mode: NodeMode
  /** Revoked nodes are always offline. */
  state: 'online' | 'offline'
  url: string
  addresses: string[]
  capacity: NodeCapacity
  health: NodeHealth | null
  pinned: string[]
  /** ISO time of the last registration or heartbeat. */
  lastSeen: string | null
  revoked: boolean
  /** The user id of the node's owner (`--owner`), or null. A local node serves its owner alone. */
  ownerId: string | null
  /** Where the node says it is (`--region`), or null; its free labels (`--tags`). As its last registration sent them. */
  region: string | null
  tags: string[]
  /** The cidcast version it registered with (null: a node that did not say). */
  version: string | null
}

/** The registry is also the leader's control handler (core/control/relay.ts hands it relayed requests). */
export interface NodeRegistry extends ControlHandler {
  /** Every node (shared, local and revoked), by label. Filter before showing to other users. */
  list (): Promise<NodeView[]>
  byLabel (label: string): Promise<NodeView | undefined>
  /** Bans a node by label, peer ID or (unambiguous) name: closes its connections and refuses it from now on. */
  revoke (nameOrLabel: string): Promise<NodeView>
  /** `change`: a node registered, changed its details, went online or offline, or was revoked. */
  on (event: 'change', listener: () => void): void
  off (event: 'change', listener: () => void): void
  /** Loads the nodes, starts taking control streams and watching heartbeats. */
  start (): Promise<void>
  stop (): Promise<void>
  /**
   * Reads the nodes again from the catalog, where the leading main server writes them (issue 15): what a server that
   * does not lead lists, names in DNS and picks for play URLs. Emits `change` when a node changed.
   */
  follow (): Promise<void>
}

export interface NodeRegistryComponents {
  logger: Logger
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'hangUp'>
  /** The nodes' rows in the catalog. */
  store: Pick<NodeRepository, 'all' | 'put'>
  gater: RevocationGater
  /** Takes a heartbeat's pin reports and answers the node's orders (replication.ts); called after the node is recorded. */
  orders?: (peerId: string, request: HeartbeatRequest) => Promise<PinOrder[]>
  /** Pre-cache orders waiting for the node (the distributor's), each given once, in the heartbeat reply. */
  prefetch?: (peerId: string) => PrefetchOrder[]
  /**
   * What a node's gateway served since its last acknowledged beat (issue #13, demand), validated and clamped
   * (core/control/served-clamp.ts); called after the node is recorded, only when there is something. Errors are logged.
   */
  served?: (peerId: string, reports: ServedReport[], at: number) => void
  /** Time of beats and of the offline sweep. @default systemClock */
  clock?: Clock
  /** The stream keys and the node's credential, sent in every register and heartbeat reply (node/server.ts). */
  access?: (peerId: string) => StreamAccessGrant
  /** The id of the user of that name, or undefined (node/server.ts, from the accounts); without it no owner is accepted. */
  userIdOf?: (name: string) => Promise<string | undefined>
  /** Every live main server sharing the catalog, sent in every reply so a node can move when its server stops. */
  servers?: () => MainServerAddress[]
}

export interface NodeRegistryInit {
  /** DNS zone of the nodes' names. @default 'cidcast.internal' */
  zone?: string
  /** Expected time between a node's heartbeats. @default 15000 */
  heartbeatMs?: number
  /** Heartbeats missed before a node is offline. @default 3 */
  missedBeats?: number
  /** Deadline of one control stream. @default 10000 */
  controlTimeoutMs?: number
  /** Most bytes per second a node is believed to serve; served reports above it are scaled down. @default 10 Gbit/s */
  maxUplinkBytesPerSecond?: number
}

/** The main server's record of CDN nodes, fed by the control protocol. */
export function createNodeRegistry (components: NodeRegistryComponents, init: NodeRegistryInit = {}): NodeRegistry {
  return new Registry(components, init)
}

class Registry implements NodeRegistry, ControlHandler {
  private readonly log: Logger
  private readonly zone: string
  private readonly heartbeatMs: number
  private readonly offlineAfterMs: number
  private readonly events = new EventEmitter()
  private readonly nodes = new Map<string, NodeRecord>()
  /** The state last announced per peer, to emit `change` only when it flips. */
  private readonly states = new Map<string, 'online' | 'offline'>()
  private readonly control: ControlServer
  /** Mutations run one at a time, so two registrations never pick the same label. */
  private queue: Promise<unknown> = Promise.resolve()
  private stopSweeping?: () => void
  private readonly clock: Clock
  private started = false
  /** Set while leading: a late follow() must not overwrite what this registry now writes. */
  private stopFollowing = false
  /** Per peer, when the span of its next served reports began: its last heartbeat, or its last sighting before it registered. */
  private readonly servedSince = new Map<string, number>()
  /** node -> the id of the last served batch taken from it */
  private readonly lastBatch = new Map<string, string>()
  /** node -> roots it fetched by fallback lately -> when (fetchedRoots) */
  private readonly fetched = new Map<string, Map<string, number>>()
  private readonly maxUplinkBytesPerSecond: number | undefined

  constructor (private readonly components: NodeRegistryComponents, init: NodeRegistryInit) {
    this.log = components.logger.child({ name: 'cidcast:registry' })
    this.clock = components.clock ?? systemClock
    this.zone = (init.zone ?? DEFAULT_ZONE).replace(/\.$/, '').toLowerCase()
    this.heartbeatMs = init.heartbeatMs ?? HEARTBEAT_INTERVAL_MS
    if (!(this.heartbeatMs > 0)) throw new RangeError('heartbeatMs must be > 0')
    // half a beat of grace: a beat that is merely late is not a missed one
    this.offlineAfterMs = (init.missedBeats ?? MISSED_BEATS) * this.heartbeatMs + this.heartbeatMs / 2
    this.maxUplinkBytesPerSecond = init.maxUplinkBytesPerSecond
    this.control = createControlServer({ libp2p: components.libp2p, logger: components.logger, handler: this }, { timeoutMs: init.controlTimeoutMs })
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.stopFollowing = true
    this.nodes.clear()
    for (const record of await this.components.store.all()) {
      this.nodes.set(record.peerId, record)
      this.states.set(record.peerId, this.stateOf(record))
      if (record.revokedAtMs != null) {
        this.components.gater.revoke(record.peerId)
        await this.hangUp(record.peerId)
      }
    }
    this.announce()
    await this.control.start()
    this.stopSweeping = this.clock.every(Math.max(20, Math.min(this.heartbeatMs / 3, 5000)), () => { this.sweep() })
    this.log.info({ nodes: this.nodes.size, zone: this.zone, heartbeatMs: this.heartbeatMs }, 'node registry started')
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.stopFollowing = false
    this.stopSweeping?.()
    await this.control.stop()
    await this.queue.catch(() => {})
  }

  async follow (): Promise<void> {
    if (this.started) return
    const records = await this.components.store.all()
    const shape = (record: NodeRecord): string => JSON.stringify(record, (key, value) => key === 'lastSeenMs' || key === 'updatedAtMs' || key === 'capacity' || key === 'health' ? undefined : value)
    let changed = records.length !== this.nodes.size
    const seen = new Set<string>()
    for (const record of records) {
      seen.add(record.peerId)
      const before = this.nodes.get(record.peerId)
      if (before == null || shape(before) !== shape(record)) changed = true
      this.nodes.set(record.peerId, record)
      if (record.revokedAtMs != null && !this.components.gater.isRevoked(record.peerId)) {
        this.components.gater.revoke(record.peerId)
        await this.hangUp(record.peerId)
      }
    }
    for (const peerId of [...this.nodes.keys()]) if (!seen.has(peerId)) this.nodes.delete(peerId)
    if (changed && !this.stopFollowing) this.announce()
    else if (!this.stopFollowing) this.sweep()
  }

  async list (): Promise<NodeView[]> {
    return [...this.nodes.values()].sort((a, b) => a.label.localeCompare(b.label)).map(record => this.view(record))
  }

  async byLabel (label: string): Promise<NodeView | undefined> {
    const wanted = label.toLowerCase()
    for (const record of this.nodes.values()) {
      if (record.label === wanted) return this.view(record)
    }
    return undefined
  }

  on (event: 'change', listener: () => void): void {
    this.events.on(event, listener)
  }

  off (event: 'change', listener: () => void): void {
    this.events.off(event, listener)
  }

  async revoke (nameOrLabel: string): Promise<NodeView> {
    return this.exclusive(async () => {
      const record = this.find(nameOrLabel)
      this.components.gater.revoke(record.peerId)
      if (record.revokedAtMs == null) {
        const now = this.clock.now()
        const revoked = { ...record, revokedAtMs: now, updatedAtMs: now }
        await this.components.store.put(revoked)
        this.nodes.set(record.peerId, revoked)
        this.log.warn({ label: record.label, peer: record.peerId }, 'node revoked')
      }
      await this.hangUp(record.peerId)
      this.announce()
      return this.view(this.nodes.get(record.peerId) ?? record)
    })
  }

  async register (peer: PeerId, request: RegisterRequest): Promise<RegisterReply> {
    const peerId = peer.toString()
    if (this.components.gater.isRevoked(peerId)) throw new NodeRevokedError(`peer ${peerId} is revoked`)
    const speaks = request.protocol ?? 1
    if (speaks < CONTROL_VERSION_MIN || speaks > CONTROL_VERSION) {
      const newer = speaks > CONTROL_VERSION ? 'main server' : 'node'
      throw new ControlVersionError(`the node (cidcast ${request.version ?? 'before 0.1.0'}) speaks control protocol ${speaks}; this main server (cidcast ${CIDCAST_VERSION}) speaks ${CONTROL_VERSION_MIN === CONTROL_VERSION ? CONTROL_VERSION : `${CONTROL_VERSION_MIN} to ${CONTROL_VERSION}`}: upgrade the ${newer}`)
    }
    const expected = ipnsNameOf(peer)
    if (request.ipns !== expected) throw new IpnsMismatchError(`the IPNS name of peer ${peerId} is ${expected}, not ${request.ipns.slice(0, 128)}`)
    const base = labelFromName(request.name)
    const owner = await this.ownerOf(request)
    return this.exclusive(async () => {
      const existing = this.nodes.get(peerId)
      if (existing?.revokedAtMs != null) throw new NodeRevokedError(`peer ${peerId} is revoked`)
      // the same peer keeps its label while its name means the same label, even if a suffix was needed
      const label = existing != null && labelFromName(existing.name) === base
        ? existing.label
        : uniqueLabel(base, candidate => this.labelTaken(candidate, peerId))
      const now = this.clock.now()
      const record: NodeRecord = {
        peerId,
        name: request.name,
        label,
        ipns: request.ipns,
        mode: request.mode,
        url: request.url,
        addresses: request.addresses,
        capacity: request.capacity,
        health: existing?.health ?? null,
        pinned: existing?.pinned ?? [],
        lastSeenMs: now,
        revokedAtMs: null,
        owner,
        // as this registration says: a node restarted without --region has none any more
        region: request.region ?? null,
        tags: request.tags ?? [],
        version: request.version ?? null,
        createdAtMs: existing?.createdAtMs ?? now,
        updatedAtMs: now
      }
      await this.components.store.put(record)
      this.nodes.set(peerId, record)
      // a node keeps what it served while the server did not hear from it, and reports it after registering again
      if (!this.servedSince.has(peerId)) this.servedSince.set(peerId, existing?.lastSeenMs ?? now)
      this.log.info({ label, peer: peerId, mode: record.mode, url: record.url, owner: request.owner, region: record.region, tags: record.tags, again: existing != null }, 'node registered')
      this.announce()
      const reply: RegisterReply = { type: 'registered', label, dnsName: this.dnsName(label), heartbeatSeconds: this.heartbeatMs / 1000 }
      return this.withAccess(reply, peerId)
    })
  }

  async heartbeat (peer: PeerId, request: HeartbeatRequest): Promise<HeartbeatReply> {
    const peerId = peer.toString()
    let since = 0
    await this.exclusive(async () => {
      const existing = this.nodes.get(peerId)
      if (existing == null) throw new NodeNotRegisteredError(`peer ${peerId} is not registered`)
      if (existing.revokedAtMs != null || this.components.gater.isRevoked(peerId)) throw new NodeRevokedError(`peer ${peerId} is revoked`)
      const now = this.clock.now()
      const record = { ...existing, capacity: request.capacity, health: request.health, pinned: request.pinned, lastSeenMs: now, updatedAtMs: now }
      await this.components.store.put(record)
      this.nodes.set(peerId, record)
      since = this.servedSince.get(peerId) ?? existing.lastSeenMs ?? now
      this.servedSince.set(peerId, now)
      if (this.states.get(peerId) !== 'online') this.announce()
    })
    // a batch the node sends again because it never heard back is counted once
    if (request.served != null && (request.servedBatch == null || this.lastBatch.get(peerId) !== request.servedBatch)) {
      if (request.servedBatch != null) this.lastBatch.set(peerId, request.servedBatch)
      this.takeServed(peerId, request, since)
    }
    // outside the registry's queue: replication has its own, and one node's reports should not hold up the others
    let orders: PinOrder[] = []
    try {
      orders = await this.components.orders?.(peerId, request) ?? []
    } catch (err) {
      // the node reports again with its next heartbeat, and its orders are repeated until they end
      this.log.error({ err, peer: peerId }, 'taking pin reports failed')
    }
    const reply: HeartbeatReply = orders.length > 0 ? { type: 'ok', orders } : { type: 'ok' }
    const prefetch = this.components.prefetch?.(peerId).slice(0, MAX_PREFETCH_ORDERS) ?? []
    if (prefetch.length > 0) reply.prefetch = prefetch
    return this.withAccess(reply, peerId)
  }

  /** Hands a heartbeat's served reports on, bounded by what the node holds and could have sent since `since`. */
  private takeServed (peerId: string, request: HeartbeatRequest, since: number): void {
    if (this.components.served == null) return
    try {
      const now = this.clock.now()
      // a beat of slack: the node counts from when it got the last reply, a little after the server sent it
      // roots it fetched by fallback are in its cache of kept files: local answers of them are hits too
      const fetched = this.fetchedRoots(peerId, request.served ?? [], now)
      const pinned = new Set(request.pinned)
      const held = { has: (root: string) => pinned.has(root) || fetched.has(root) }
      const reports = clampServed(request.served ?? [], { pinned: held, now, windowMs: now - since + this.heartbeatMs, uplinkBytesPerSecond: this.maxUplinkBytesPerSecond })
      if (reports.length > 0) this.components.served(peerId, reports, now)
    } catch (err) {
      this.log.error({ err, peer: peerId }, 'taking served reports failed')
    }
  }

  /**
   * Roots `peerId` fetched from a peer or the origin within FETCHED_MS, counting this beat's reports (before they are
   * bounded: a claim of fetching costs the node nothing, but only lets it call local answers of that root hits, which
   * move no content). At most MAX_FETCHED_ROOTS a node, the oldest forgotten first.
   */
  private fetchedRoots (peerId: string, served: readonly ServedReport[], now: number): Map<string, number> {
    let roots = this.fetched.get(peerId)
    if (roots == null) this.fetched.set(peerId, roots = new Map())
    for (const report of served) {
      if (report.root == null || report.peer + report.origin <= 0) continue
      roots.delete(report.root)
      roots.set(report.root, now)
    }
    for (const [root, at] of roots) {
      if (now - at <= FETCHED_MS && roots.size <= MAX_FETCHED_ROOTS) break
      roots.delete(root)
    }
    return roots
  }

  /**
   * The user id of the owner a registration names, null when it names none; UnknownOwnerError when the main server has
   * no such user. The claim is trusted as the node's mode is: whoever holds the swarm key may register a node at all,
   * and what an owner gains is that a node serves them alone.
   */
  private async ownerOf (request: RegisterRequest): Promise<string | null> {
    if (request.owner === undefined) return null
    const id = await this.components.userIdOf?.(request.owner)
    if (id === undefined) throw new UnknownOwnerError(`the owner "${request.owner}" is no user of this main server: add the user (cidcast user add ${request.owner}) or give the node's --owner an existing one`)
    return id
  }

  /** Adds the stream keys, the node's credential and its owner to a reply (a failure to make them is logged: the node keeps what it has). */
  private withAccess<R extends RegisterReply | HeartbeatReply> (reply: R, peerId: string): R {
    const servers = this.components.servers?.()
    if (servers != null && servers.length > 0) reply = { ...reply, servers }
    if (this.components.access == null) return reply
    try {
      const owner = this.nodes.get(peerId)?.owner
      const access = this.components.access(peerId)
      return { ...reply, access: owner == null ? access : { ...access, owner } }
    } catch (err) {
      this.log.error({ err, peer: peerId }, 'cannot give a node its stream keys')
      return reply
    }
  }

  private find (nameOrLabel: string): NodeRecord {
    return findNode(this.nodes.values(), nameOrLabel)
  }

  private labelTaken (label: string, peerId: string): boolean {
    for (const record of this.nodes.values()) {
      if (record.label === label && record.peerId !== peerId) return true
    }
    return false
  }

  private stateOf (record: NodeRecord, now = this.clock.now()): 'online' | 'offline' {
    if (record.revokedAtMs != null || record.lastSeenMs == null) return 'offline'
    return now - record.lastSeenMs <= this.offlineAfterMs ? 'online' : 'offline'
  }

  private dnsName (label: string): string {
    return `${label}.${this.zone}`
  }

  private view (record: NodeRecord): NodeView {
    return {
      name: record.name,
      label: record.label,
      dnsName: this.dnsName(record.label),
      ipns: record.ipns,
      peerId: record.peerId,
      mode: record.mode,
      state: this.stateOf(record),
      url: record.url,
      addresses: [...record.addresses],
      capacity: { ...record.capacity },
      health: record.health == null ? null : { ...record.health },
      pinned: [...record.pinned],
      lastSeen: record.lastSeenMs == null ? null : new Date(record.lastSeenMs).toISOString(),
      revoked: record.revokedAtMs != null,
      ownerId: record.owner,
      region: record.region,
      version: record.version,
      tags: [...record.tags]
    }
  }

  /** Records every node's current state and emits `change` (always: the caller changed something). */
  private announce (): void {
    const now = this.clock.now()
    for (const record of this.nodes.values()) this.states.set(record.peerId, this.stateOf(record, now))
    this.emit()
  }

  /** Emits `change` if a node went online or offline by the passing of time. */
  private sweep (): void {
    const now = this.clock.now()
    let changed = false
    for (const record of this.nodes.values()) {
      const state = this.stateOf(record, now)
      if (this.states.get(record.peerId) !== state) {
        this.states.set(record.peerId, state)
        changed = true
        this.log.info({ label: record.label, peer: record.peerId, state }, `node ${state}`)
      }
    }
    if (changed) this.emit()
  }

  private emit (): void {
    try {
      this.events.emit('change')
    } catch (err) {
      this.log.error({ err }, 'a change listener failed')
    }
  }

  private async hangUp (peerId: string): Promise<void> {
    try {
      await this.components.libp2p.hangUp(peerIdFromString(peerId))
    } catch (err) {
      this.log.debug({ err, peer: peerId }, 'closing the connections of a revoked peer failed')
    }
  }

  private async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn)
    this.queue = run.catch(() => {})
    return run
  }
}
