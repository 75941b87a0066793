import { EventEmitter } from 'node:events'
import { systemClock } from '../clock.ts'
import type { LeaderLock, MainServerRecord, MainServerRepository } from '../catalog/index.ts'
import type { Clock } from '../clock.ts'
import type { Logger } from '../logger.ts'

/*
 * Several main servers on one database (issue 15, item 2). Each beats its row in `main_servers` every `beatMs`, so the
 * others and the nodes know where every live server answers; and each tries, at every beat, to take the leadership
 * lock (core/catalog/leader-lock.ts). The one that holds it runs the work that must run once (registered with `lead`):
 * taking nodes' control messages, replication upkeep, distribution, metadata look-ups. A leader that can no longer
 * show it holds the lock (its database connection broke) stops that work at once, before another can take over, so
 * two leaders never act together for longer than one of them takes to notice (a beat). When the leader dies, its
 * lock goes with its database session and the next beat of another server takes it: failover within a beat or two.
 */

/** One main server sharing the database, as its last beat said. */
export interface Member extends MainServerRecord {
  /** This process. */
  self: boolean
}

/** What a server says of itself in its beat. */
export interface SelfInfo {
  peerId: string
  url: string
  addresses: string[]
  dns: string | null
  version: string
  /** The fingerprint of its swarm key. */
  swarm: string
}

/** Work that runs on the leader alone: started when this server takes the lead, stopped when it loses it or stops. */
export interface LeaderWork {
  name: string
  start: () => Promise<void> | void
  stop: () => Promise<void> | void
}

export interface Cluster {
  /** Registers work for the leader (before `start`; started at once if this server already leads). */
  lead (work: LeaderWork): void
  /** Beats, takes the lead if it is free, and keeps doing so every beat. */
  start (): Promise<void>
  /** Stops the leader's work, lets the lock go and removes this server's row. */
  stop (): Promise<void>
  isLeader (): boolean
  /** The live servers (this one first), as of the last beat. */
  members (): Member[]
  /** The live server that leads, as the last beat read it (this one when it does). */
  leader (): Member | undefined
  /** `change`: a server joined, left, or the leadership moved. */
  on (event: 'change', listener: () => void): void
  off (event: 'change', listener: () => void): void
}

export interface ClusterComponents {
  logger: Logger
  servers: MainServerRepository
  lock: LeaderLock
  self: () => SelfInfo
  clock?: Clock
}

export interface ClusterInit {
  /** Time between beats (and leadership checks). @default 2000 */
  beatMs?: number
  /** A server not heard from for this long is no member any more. @default 5 beats */
  liveMs?: number
}

/** Creates the cluster membership and leadership of this main server. */
export function createCluster (components: ClusterComponents, init: ClusterInit = {}): Cluster {
  return new DatabaseCluster(components, init)
}

class DatabaseCluster implements Cluster {
  private readonly log: Logger
  private readonly clock: Clock
  private readonly beatMs: number
  private readonly liveMs: number
  private readonly work: LeaderWork[] = []
  private readonly events = new EventEmitter()
  private readonly startedAtMs: number
  private leadingSince: number | null = null
  private known: Member[] = []
  private timer?: () => void
  private ticking: Promise<void> = Promise.resolve()
  private running = false
  private unreachableSince: number | null = null
  private readonly strangers = new Set<string>()

  constructor (private readonly components: ClusterComponents, init: ClusterInit) {
    this.log = components.logger.child({ name: 'cidcast:cluster' })
    this.clock = components.clock ?? systemClock
    this.beatMs = init.beatMs ?? 2000
    this.liveMs = init.liveMs ?? this.beatMs * 5
    this.startedAtMs = this.clock.now()
  }

  lead (work: LeaderWork): void {
    this.work.push(work)
    if (this.leadingSince != null) void this.startWork([work])
  }

  async start (): Promise<void> {
    this.running = true
    await this.tick()
    this.timer = this.clock.every(this.beatMs, () => { this.ticking = this.ticking.then(async () => { await this.tick() }) })
  }

  async stop (): Promise<void> {
    this.running = false
    this.timer?.()
    await this.ticking
    if (this.leadingSince != null) await this.stepDown('stopping')
    await this.components.lock.release()
    await this.components.servers.remove(this.components.self().peerId).catch(err => { this.log.debug({ err }, 'removing this server\'s row failed') })
  }

  isLeader (): boolean {
    return this.leadingSince != null
  }

  members (): Member[] {
    return this.known.map(member => ({ ...member }))
  }

  leader (): Member | undefined {
    return this.known.filter(member => member.leadingSinceMs != null).sort((a, b) => (b.leadingSinceMs ?? 0) - (a.leadingSinceMs ?? 0))[0]
  }

  on (event: 'change', listener: () => void): void {
    this.events.on(event, listener)
  }

  off (event: 'change', listener: () => void): void {
    this.events.off(event, listener)
  }

  private async tick (): Promise<void> {
    if (!this.running) return
    const holds = await this.components.lock.acquire()
    if (holds && this.leadingSince == null) await this.takeLead()
    else if (!holds && this.leadingSince != null) await this.stepDown('the leadership lock is no longer held (the database connection broke, or the database stopped)')
    const now = this.clock.now()
    const self = this.components.self()
    try {
      await this.components.servers.beat({ ...self, startedAtMs: this.startedAtMs, seenAtMs: now, leadingSinceMs: this.leadingSince })
      const rows = await this.components.servers.all()
      if (this.unreachableSince != null) this.log.info({ downMs: now - this.unreachableSince }, 'the database answers the cluster\'s beats again')
      this.unreachableSince = null
      const live = rows.filter(row => row.peerId === self.peerId || now - row.seenAtMs <= this.liveMs)
      this.update(live.filter(row => this.sameNetwork(row, self)).map(row => ({ ...row, self: row.peerId === self.peerId })))
    } catch (err) {
      if (this.unreachableSince == null) {
        this.unreachableSince = now
        this.log.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'the cluster\'s beat failed; the servers known stay as they were')
      }
    }
  }

  /** A server with another swarm key is on another private network: no member, and said once, loudly. */
  private sameNetwork (row: MainServerRecord, self: SelfInfo): boolean {
    if (row.swarm === self.swarm) return true
    if (!this.strangers.has(row.peerId)) {
      this.strangers.add(row.peerId)
      this.log.error({ server: row.url, peer: row.peerId }, `the main server at ${row.url} shares this catalog but not this server's swarm key: the servers of one catalog must share one private network (copy one swarm.key to every server's data folder)`)
    }
    return false
  }

  private update (members: Member[]): void {
    members.sort((a, b) => Number(b.self) - Number(a.self) || a.startedAtMs - b.startedAtMs || a.peerId.localeCompare(b.peerId))
    const shape = (list: Member[]): string => list.map(m => `${m.peerId} ${m.url} ${m.addresses.join(',')} ${m.leadingSinceMs ?? ''}`).join('\n')
    const changed = shape(members) !== shape(this.known)
    this.known = members
    if (changed) this.emit()
  }

  private async takeLead (): Promise<void> {
    this.leadingSince = this.clock.now()
    this.log.info({ work: this.work.map(w => w.name) }, 'this main server leads: the work that runs once starts here')
    await this.startWork(this.work)
    this.emit()
  }

  private async stepDown (why: string): Promise<void> {
    this.leadingSince = null
    // a server that stops hands the lead on as it should; losing the lock while running is worth a warning
    this.log[why === 'stopping' ? 'info' : 'warn']({ why }, 'this main server no longer leads: its once-only work stops')
    for (const work of [...this.work].reverse()) {
      try {
        await work.stop()
      } catch (err) {
        this.log.error({ err, work: work.name }, 'stopping leader work failed')
      }
    }
    this.emit()
  }

  private async startWork (list: LeaderWork[]): Promise<void> {
    for (const work of list) {
      try {
        await work.start()
      } catch (err) {
        // the others run anyway; this one is tried again when the lead is taken again
        this.log.error({ err, work: work.name }, 'starting leader work failed')
      }
    }
  }

  private emit (): void {
    try {
      this.events.emit('change')
    } catch (err) {
      this.log.error({ err }, 'a cluster change listener failed')
    }
  }
}
