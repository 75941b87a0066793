import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CONTROL_VERSION, MAX_ADDRESSES, parseMainServers, PIN_PROGRESS_INTERVAL_MS } from '../control/index.ts'
import { CIDCAST_VERSION } from '../version.ts'
import { PrivateNetworkRefusedError, ServerDialFailedError } from './errors.ts'
import type { CapacityReport } from './capacity.ts'
import type { DemandMeter } from './demand-meter.ts'
import type { HeartbeatReply, HeartbeatRequest, MainServerAddress, NodeHealth, NodeMode, PinOrder, PinReport, PrefetchOrder, RegisterReply, RegisterRequest, StreamAccessGrant } from '../control/index.ts'
import type { OriginClient, ServerInfo } from './origin-client.ts'
import type { Logger } from '../logger.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * A CDN node's side of the control plane: finds the main server (its HTTP `/api/v1/server`, or a multiaddr with
 * `/p2p/`), dials it inside the private network, registers, and sends heartbeats. Whatever fails (the server is
 * down, a heartbeat is lost, the connection drops, the server forgot us) leads back to dial-and-register, with
 * a backoff, so a node re-registers by itself when the main server returns.
 */

/** The control calls the agent makes; `createControlClient` (core/control/client.ts) provides them. */
export interface AgentControl {
  register (request: Omit<RegisterRequest, 'type'>, options?: { signal?: AbortSignal }): Promise<RegisterReply>
  heartbeat (request: Omit<HeartbeatRequest, 'type'>, options?: { signal?: AbortSignal }): Promise<HeartbeatReply>
}

export interface NodeAgentComponents {
  libp2p: Pick<Libp2p, 'dial' | 'getConnections' | 'getMultiaddrs' | 'addEventListener' | 'removeEventListener'>
  logger: Logger
  /** The main server's HTTP API, when `server` is a URL. */
  origin?: Pick<OriginClient, 'serverInfo'>
  /** A control client talking to the server of this peer ID. */
  control: (server: PeerId) => AgentControl
  capacity: () => Promise<CapacityReport>
  health: () => Omit<NodeHealth, 'full'>
  pinned: () => Promise<string[]>
  /** Reports on replication orders for each heartbeat (the pinner's). */
  pins?: () => PinReport[]
  /**
   * What the gateway served since the last acknowledged heartbeat (the demand meter): taken for each beat, then
   * acknowledged when the server replied, or restored (to go with the next beat) when the beat failed.
   */
  served?: Pick<DemandMeter, 'take' | 'batch' | 'acknowledge' | 'restore'>
  /** The orders of each heartbeat reply, also when there are none (a reply without an order acknowledges its report). */
  onOrders?: (orders: PinOrder[]) => void
  /** The pre-cache orders of a heartbeat reply (the distributor's: the next episode of a viewer here). */
  onPrefetch?: (orders: PrefetchOrder[]) => void
  /** True while orders are queued or running: heartbeats then come every PIN_PROGRESS_INTERVAL_MS, with progress. */
  busy?: () => boolean
  /** Called on every change of status. */
  onChange?: (status: AgentStatus) => void
  /** The stream keys and this node's credential of each register and heartbeat reply that carries them. */
  onAccess?: (access: StreamAccessGrant) => Promise<void>
  /** Registered with another main server of the catalog than the one it was given (its HTTP API is now the origin). */
  onServer?: (server: MainServerAddress) => void
}

export interface NodeAgentInit {
  /** The main server: its HTTP URL, or a multiaddr ending in `/p2p/<peerId>`. */
  server: string
  name: string
  mode: NodeMode
  /** The user name of the node's owner, sent with every registration. */
  owner?: string
  /** The node's region and tags, sent with every registration (none: the main server records none). */
  region?: string
  tags?: string[]
  /** The node's gateway URL. */
  url: string
  /** The node's IPNS name. */
  ipns: string
  /** Where the server's peer ID and addresses are remembered for when its HTTP API is down. */
  serverCacheFile?: string
  /** Deadline to open a private-network connection to the server. @default 5000 */
  dialTimeoutMs?: number
  /** First wait after a failure; doubled up to `maxBackoffMs`. @default 1000 */
  minBackoffMs?: number
  /** @default 30000 */
  maxBackoffMs?: number
  /** Heartbeat interval when the server does not say. @default 15 */
  heartbeatSeconds?: number
}

export type AgentState = 'starting' | 'registered' | 'retrying' | 'stopped'

export interface AgentStatus {
  state: AgentState
  /** Set once registered (kept while retrying: the name stays the node's). */
  label?: string
  dnsName?: string
  serverPeerId?: string
  /** Why the last attempt failed. */
  error?: { name: string, message: string }
  /** Registrations so far (1 after the first, 2 after a re-registration...). */
  registrations: number
  /** Every main server of the catalog, as the last reply named them (none from a server that runs alone). */
  servers: MainServerAddress[]
  lastHeartbeatAt?: string
}

export interface NodeAgent {
  start (): void
  stop (): Promise<void>
  status (): AgentStatus
  /** Resolves with the status once the first attempt has registered or failed. */
  firstAttempt (): Promise<AgentStatus>
  /** Sends a heartbeat now (e.g. after pins changed). */
  beat (): void
}

/** Creates the agent; `start()` begins its loop. */
export function createNodeAgent (components: NodeAgentComponents, init: NodeAgentInit): NodeAgent {
  return new ControlAgent(components, init)
}

interface Target {
  peerId: PeerId
  addresses: Multiaddr[]
  /** The server answered over HTTP this round (so a failed dial is not "the server is down"). */
  viaHttp: boolean
  /** Another main server of the catalog, picked from the list its servers gave. */
  server?: MainServerAddress
}

class ControlAgent implements NodeAgent {
  private readonly c: NodeAgentComponents
  private readonly init: NodeAgentInit
  private readonly log: Logger
  private current: AgentStatus = { state: 'starting', registrations: 0, servers: [] }
  /** Attempts that failed in a row: from the second on, the agent tries the other main servers it knows in turn. */
  private failures = 0
  /** The server of the last attempt that failed, tried last. */
  private failedPeer: string | undefined
  private remembering: Promise<void> = Promise.resolve()
  private readonly stopping = new AbortController()
  private wake: (() => void) | undefined
  private beatNow = false
  private loop: Promise<void> | undefined
  private readonly first = Promise.withResolvers<AgentStatus>()
  private serverPeer: PeerId | undefined

  constructor (components: NodeAgentComponents, init: NodeAgentInit) {
    this.c = components
    this.init = init
    this.log = components.logger.child({ name: 'cidcast:node-agent' })
  }

  start (): void {
    this.c.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.loop ??= this.run()
  }

  async stop (): Promise<void> {
    this.stopping.abort()
    this.wake?.()
    this.c.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    await this.loop
    this.set({ state: 'stopped' })
  }

  status (): AgentStatus {
    return { ...this.current, servers: [...this.current.servers] }
  }

  async firstAttempt (): Promise<AgentStatus> {
    return await this.first.promise
  }

  beat (): void {
    this.beatNow = true
    this.wake?.()
  }

  private readonly onDisconnect = (event: CustomEvent<PeerId>): void => {
    if (this.serverPeer != null && event.detail.equals(this.serverPeer)) this.wake?.()
  }

  private set (change: Partial<AgentStatus>): void {
    this.current = { ...this.current, ...change }
    this.c.onChange?.(this.status())
  }

  private async run (): Promise<void> {
    const min = this.init.minBackoffMs ?? 1000
    const max = this.init.maxBackoffMs ?? 30_000
    let backoff = min
    while (!this.stopping.signal.aborted) {
      try {
        const target = await this.pickTarget()
        this.serverPeer = target.peerId
        await this.dial(target)
        const control = this.c.control(target.peerId)
        const reply = await control.register(await this.registerRequest(), { signal: this.stopping.signal })
        await this.takeAccess(reply.access)
        this.takeServers(reply.servers)
        if (target.server != null) {
          this.log.info({ server: target.server.url }, 'registered with another main server of the catalog')
          this.c.onServer?.(target.server)
        }
        this.failures = 0
        this.failedPeer = undefined
        backoff = min
        this.set({ state: 'registered', label: reply.label, dnsName: reply.dnsName, serverPeerId: target.peerId.toString(), error: undefined, registrations: this.current.registrations + 1 })
        this.log.info({ dnsName: reply.dnsName, server: target.peerId.toString() }, 'registered with the main server')
        this.first.resolve(this.status())
        await this.heartbeats(control, target.peerId, reply.heartbeatSeconds > 0 ? reply.heartbeatSeconds : (this.init.heartbeatSeconds ?? 15))
      } catch (err) {
        if (this.stopping.signal.aborted) break
        const e = err as Error
        // a server whose leader is changing is still there: try it again rather than move
        if ((e as { code?: string }).code !== 'LeaderUnavailableError') {
          this.failures++
          this.failedPeer = this.serverPeer?.toString()
        }
        this.set({ state: 'retrying', error: { name: e.name ?? 'Error', message: e.message ?? String(err) } })
        this.log.warn({ err: e.name, message: e.message, retryInMs: backoff }, 'not registered with the main server; retrying')
        this.first.resolve(this.status())
        await this.pause(backoff)
        backoff = Math.min(backoff * 2, max)
      }
    }
    this.first.resolve(this.status())
  }

  /** Heartbeats until one fails or the connection to the server drops (then the caller dials and registers again). */
  private async heartbeats (control: AgentControl, server: PeerId, seconds: number): Promise<void> {
    while (!this.stopping.signal.aborted) {
      await this.pause(this.c.busy?.() === true ? Math.min(PIN_PROGRESS_INTERVAL_MS, seconds * 1000) : seconds * 1000)
      if (this.stopping.signal.aborted) return
      if (this.c.libp2p.getConnections(server).length === 0) {
        throw new ServerDialFailedError('the connection to the main server was lost')
      }
      this.beatNow = false
      const [capacity, pinned] = await Promise.all([this.c.capacity(), this.c.pinned()])
      const { full, ...space } = capacity
      const pins = this.c.pins?.()
      const served = await this.c.served?.take() ?? []
      let reply: HeartbeatReply
      try {
        reply = await control.heartbeat({ capacity: space, health: { ...this.c.health(), full }, pinned, ...(pins != null ? { pins } : {}), ...(served.length > 0 ? { served, servedBatch: this.c.served?.batch() } : {}) }, { signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(seconds * 1000)]) })
      } catch (err) {
        // not acknowledged: the same batch goes with the next beat (a server that took it drops the repeat)
        this.c.served?.restore()
        throw err
      }
      this.c.served?.acknowledge()
      this.set({ lastHeartbeatAt: new Date().toISOString() })
      this.c.onOrders?.(reply.orders ?? [])
      if (reply.prefetch != null && reply.prefetch.length > 0) this.c.onPrefetch?.(reply.prefetch)
      await this.takeAccess(reply.access)
      this.takeServers(reply.servers)
    }
  }

  /** Hands the keys on; a list the node refuses is logged and the keys it had stay (the next beat brings them again). */
  private async takeAccess (access: StreamAccessGrant | undefined): Promise<void> {
    if (access == null || this.c.onAccess == null) return
    try {
      await this.c.onAccess(access)
    } catch (err) {
      this.log.warn({ err }, 'cannot take the main server\'s stream keys; keeping the ones this node has')
    }
  }

  private async registerRequest (): Promise<Omit<RegisterRequest, 'type'>> {
    const { full, ...capacity } = await this.c.capacity()
    void full
    return {
      name: this.init.name,
      mode: this.init.mode,
      url: this.init.url,
      // the server keeps at most MAX_ADDRESSES; a wildcard listen address expands to one per interface
      addresses: this.c.libp2p.getMultiaddrs().map(String).slice(0, MAX_ADDRESSES),
      ipns: this.init.ipns,
      capacity,
      ...(this.init.owner != null ? { owner: this.init.owner } : {}),
      ...(this.init.region != null ? { region: this.init.region } : {}),
      ...(this.init.tags != null && this.init.tags.length > 0 ? { tags: this.init.tags } : {}),
      version: CIDCAST_VERSION,
      protocol: CONTROL_VERSION
    }
  }

  /** Keeps the main servers a reply names (and remembers them for a restart while the given one is down). */
  private takeServers (servers: MainServerAddress[] | undefined): void {
    if (servers == null) return
    const same = JSON.stringify(servers) === JSON.stringify(this.current.servers)
    if (same) return
    this.set({ servers })
    void this.rememberServers(servers)
  }

  /**
   * Where to register: the server this node was given, while that works; after a failed attempt, the other main
   * servers of its catalog and the given one in turn (the one that just failed last), so a node moves when its
   * server stops and comes back to a server restarted on new addresses.
   */
  private async pickTarget (): Promise<Target> {
    let known = this.current.servers
    if (known.length === 0) known = await this.rememberedServers()
    if (this.failures === 0 || known.length === 0) return await this.target()
    // the server it was given comes round too: asked afresh (its HTTP API), it names the addresses it has now, which
    // a restarted server may have changed
    const others = known.filter(server => server.peerId !== this.failedPeer)
    const turn = [undefined, ...others, ...known.filter(server => server.peerId === this.failedPeer)]
    const server = turn[this.failures % turn.length]
    if (server == null) return await this.target()
    return { peerId: peerIdFromString(server.peerId), addresses: server.addresses.map(a => multiaddr(a)), viaHttp: false, server }
  }

  /** Where the server is: its multiaddr, else its HTTP API (remembered), else what was remembered. */
  private async target (): Promise<Target> {
    const server = this.init.server
    if (server.startsWith('/')) {
      const address = multiaddr(server)
      const id = address.getComponents().find(c => c.name === 'p2p')?.value
      if (id == null) throw new ServerDialFailedError(`the server multiaddr ${server} has no /p2p/<peer id>`)
      return { peerId: peerIdFromString(id), addresses: [address], viaHttp: false }
    }
    if (this.c.origin == null) throw new ServerDialFailedError('no way to reach the main server')
    let info: ServerInfo
    let viaHttp = true
    try {
      info = await this.c.origin.serverInfo({ signal: this.stopping.signal })
      await this.remember(info)
    } catch (err) {
      const known = await this.remembered()
      if (known == null) throw err
      info = known
      viaHttp = false
    }
    return { peerId: peerIdFromString(info.peerId), addresses: info.addresses.map(a => multiaddr(a)), viaHttp }
  }

  private async dial (target: Target): Promise<void> {
    const timeoutMs = this.init.dialTimeoutMs ?? 5000
    try {
      await this.c.libp2p.dial(target.addresses, { signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(timeoutMs)]) })
    } catch (err) {
      if (this.stopping.signal.aborted) throw err
      const cause = `${(err as Error).name}: ${(err as Error).message}`.slice(0, 300)
      const addrs = target.addresses.map(String).join(', ')
      // a TCP connect that fails is the network (or the server's connection rate limit), not a refusal
      const transport = /\bconnect (ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)\b/.test(cause)
      if (target.viaHttp && !transport) {
        throw new PrivateNetworkRefusedError(`the main server answers over HTTP but its private network refused this node (peer ${target.peerId.toString()} at ${addrs}): check that this node's swarm.key is the main server's, and that the node was not revoked (${cause})`)
      }
      throw new ServerDialFailedError(`cannot open a private-network connection to the main server (peer ${target.peerId.toString()} at ${addrs}) (${cause})`)
    }
  }

  /** Waits `ms`, or less when stopped, woken (connection lost) or asked for a heartbeat. */
  private async pause (ms: number): Promise<void> {
    if (this.stopping.signal.aborted || this.beatNow) return
    await new Promise<void>(resolve => {
      const timer = setTimeout(done, ms)
      function done (): void { clearTimeout(timer); resolve() }
      this.wake = done
    })
    this.wake = undefined
  }

  private async remember (info: ServerInfo): Promise<void> {
    await this.rememberFields({ peerId: info.peerId, addresses: info.addresses })
  }

  private async rememberServers (servers: MainServerAddress[]): Promise<void> {
    await this.rememberFields({ servers })
  }

  /** Merges `fields` into the server cache file, one write at a time (its temporary file is shared). */
  private async rememberFields (fields: Record<string, unknown>): Promise<void> {
    const file = this.init.serverCacheFile
    if (file == null) return
    const write = this.remembering.then(async () => {
      const before = await readFile(file, 'utf8').catch(() => '')
      let known: Record<string, unknown> = {}
      try { known = JSON.parse(before) as Record<string, unknown> } catch {}
      const text = JSON.stringify({ ...known, ...fields })
      if (text === before) return
      await mkdir(dirname(file), { recursive: true })
      await writeFile(`${file}.tmp`, text)
      await rename(`${file}.tmp`, file)
    }).catch(err => { this.log.debug({ err }, 'cannot remember the main server\'s address') })
    this.remembering = write
    await write
  }

  private async rememberedServers (): Promise<MainServerAddress[]> {
    const file = this.init.serverCacheFile
    if (file == null) return []
    try {
      const { servers } = JSON.parse(await readFile(file, 'utf8')) as { servers?: unknown }
      return servers == null ? [] : parseMainServers(servers)
    } catch {
      return []
    }
  }

  private async remembered (): Promise<ServerInfo | undefined> {
    const file = this.init.serverCacheFile
    if (file == null) return undefined
    try {
      const info = JSON.parse(await readFile(file, 'utf8')) as ServerInfo
      if (typeof info.peerId === 'string' && Array.isArray(info.addresses)) return info
    } catch {}
    return undefined
  }
}
