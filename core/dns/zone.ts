import { BlockList, isIP, isIPv4 } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { parseDnsName } from '../config/index.ts'
import type { NodeMode } from '../control/index.ts'

/**
 * What the zone needs of a node. The registry's `NodeView` (core/replication/registry.ts) has these fields and more,
 * so `registry.list` can be passed as `nodes` as it is.
 */
export interface ZoneNode {
  /** DNS label assigned by the registry (`<label>.<zone>`). */
  label: string
  /** IPNS name (`k51...`). */
  ipns: string
  mode: NodeMode
  state: 'online' | 'offline'
  /** The node's HTTP gateway URL. */
  url: string
  /** The node's libp2p multiaddrs. */
  addresses: string[]
  revoked?: boolean
}

/** A question as it comes off the wire (dns-packet's names: type `A`, `UNKNOWN_65280`...; class `IN`...). */
export interface ZoneQuestion {
  name: string
  type: string
  class?: string
}

/** A resource record in dns-packet's shape. */
export type ZoneRecord =
  | { name: string, type: 'A' | 'AAAA' | 'NS', ttl: number, class: 'IN', data: string }
  | { name: string, type: 'TXT', ttl: number, class: 'IN', data: string[] }
  | { name: string, type: 'SOA', ttl: number, class: 'IN', data: { mname: string, rname: string, serial: number, refresh: number, retry: number, expire: number, minimum: number } }

export type ZoneRcode = 'NOERROR' | 'NXDOMAIN' | 'REFUSED'

/** The zone's answer to one question. */
export interface ZoneAnswer {
  rcode: ZoneRcode
  /** Set when the name is inside the zone (we are its authority). */
  authoritative: boolean
  answers: ZoneRecord[]
  /** SOA of the zone on NXDOMAIN and no-data answers (negative caching, RFC 2308). */
  authorities: ZoneRecord[]
}

export interface ZoneInit {
  /** The zone's apex, e.g. `cidcast.internal` (a trailing dot and upper case are accepted). */
  zone: string
  /** TTL of node records, and the negative-caching time. @default 30 */
  ttlSeconds?: number
  /** Keep loopback addresses of nodes (a server on loopback serves loopback nodes). @default true */
  includeLoopback?: boolean
  /** Addresses of this name server: `A`/`AAAA` at the apex, which is also the NS and SOA MNAME. @default [] */
  nameserverAddresses?: string[]
  /** How long one `nodes()` snapshot answers queries before it is asked again. @default 1000 */
  snapshotMs?: number
}

export interface ZoneComponents {
  /** The current nodes (every mode and state: the zone keeps only online shared ones). */
  nodes: () => Promise<ZoneNode[]>
}

/** The authoritative data of the zone, rebuilt from the nodes snapshot. */
export interface Zone {
  /** The apex, lower case, no trailing dot. */
  readonly origin: string
  /** Answers one question (`nodes()` failures reject: the server turns them into SERVFAIL). */
  answer: (question: ZoneQuestion) => Promise<ZoneAnswer>
  /** The SOA serial now: seconds since the epoch at the first snapshot, then at least +1 per change. */
  serial: () => number
  /** Drops the snapshot so the next query asks `nodes()` again (call it on registry changes). */
  invalidate: () => void
}

const SOA_TTL_SECONDS = 300
const NS_TTL_SECONDS = 3600
const REFRESH_SECONDS = 3600
const RETRY_SECONDS = 600
const EXPIRE_SECONDS = 604_800
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
const IPNS_NAME = /^[a-z0-9]{10,200}$/

const loopback = new BlockList()
loopback.addSubnet('127.0.0.0', 8, 'ipv4')
loopback.addAddress('::1', 'ipv6')
// never useful to a client elsewhere: unspecified, link-local (needs an interface), multicast and reserved
const unusable = new BlockList()
unusable.addSubnet('0.0.0.0', 8, 'ipv4')
unusable.addSubnet('169.254.0.0', 16, 'ipv4')
unusable.addSubnet('224.0.0.0', 3, 'ipv4')
unusable.addAddress('::', 'ipv6')
unusable.addSubnet('fe80::', 10, 'ipv6')
unusable.addSubnet('ff00::', 8, 'ipv6')

function usable (ip: string, includeLoopback: boolean): boolean {
  const family = isIP(ip)
  if (family === 0) return false
  const type = family === 4 ? 'ipv4' : 'ipv6'
  if (unusable.check(ip, type)) return false
  return includeLoopback || !loopback.check(ip, type)
}

/** A node's IPs: its URL's host when that is a usable IP literal, else the IPs of its multiaddrs. */
export function nodeAddresses (node: Pick<ZoneNode, 'url' | 'addresses'>, includeLoopback = true): string[] {
  try {
    const host = new URL(node.url).hostname.replace(/^\[(.*)\]$/, '$1')
    if (usable(host, includeLoopback)) return [host]
  } catch {}
  const ips = new Set<string>()
  for (const text of node.addresses) {
    try {
      for (const c of multiaddr(text).getComponents()) {
        if ((c.name === 'ip4' || c.name === 'ip6') && c.value != null && usable(c.value, includeLoopback)) ips.add(c.value)
      }
    } catch {}
  }
  return [...ips].sort()
}

interface NameRecords {
  A: string[]
  AAAA: string[]
  TXT: string[][]
}

interface Snapshot {
  names: Map<string, NameRecords>
  at: number
}

class NodeZone implements Zone {
  readonly origin: string
  private readonly components: ZoneComponents
  private readonly ttl: number
  private readonly includeLoopback: boolean
  private readonly apex: NameRecords
  private readonly snapshotMs: number
  private snapshot?: Snapshot
  private pending?: Promise<Snapshot>
  private fingerprint = ''
  private currentSerial = 0

  constructor (components: ZoneComponents, init: ZoneInit) {
    this.components = components
    this.origin = parseDnsName(init.zone)
    this.ttl = init.ttlSeconds ?? 30
    this.includeLoopback = init.includeLoopback ?? true
    this.snapshotMs = init.snapshotMs ?? 1000
    const ns = (init.nameserverAddresses ?? []).filter(ip => usable(ip, true))
    this.apex = { A: ns.filter(ip => isIPv4(ip)), AAAA: ns.filter(ip => !isIPv4(ip)), TXT: [] }
  }

  serial (): number {
    return this.currentSerial
  }

  invalidate (): void {
    this.snapshot = undefined
  }

  async answer (question: ZoneQuestion): Promise<ZoneAnswer> {
    const asked = question.name.replace(/\.$/, '')
    const name = asked.toLowerCase()
    const inZone = name === this.origin || name.endsWith(`.${this.origin}`)
    const klass = question.class ?? 'IN'
    // zone transfers are not offered; other classes (CHAOS "version.bind"...) are not ours either
    if (!inZone || (klass !== 'IN' && klass !== 'ANY') || question.type === 'AXFR' || question.type === 'IXFR') {
      return { rcode: 'REFUSED', authoritative: false, answers: [], authorities: [] }
    }
    const { names } = await this.current()
    const records = name === this.origin ? this.apex : names.get(name)
    if (records == null) return { rcode: 'NXDOMAIN', authoritative: true, answers: [], authorities: [this.soa()] }
    const answers: ZoneRecord[] = []
    const want = (type: string): boolean => question.type === type || question.type === 'ANY'
    if (name === this.origin) {
      if (want('SOA')) answers.push(this.soa())
      if (want('NS')) answers.push({ name: this.origin, type: 'NS', ttl: NS_TTL_SECONDS, class: 'IN', data: this.origin })
    }
    const ttl = name === this.origin ? NS_TTL_SECONDS : this.ttl
    // owner names keep the asker's case: resolvers using 0x20 randomization compare it
    if (want('A')) for (const ip of records.A) answers.push({ name: asked, type: 'A', ttl, class: 'IN', data: ip })
    if (want('AAAA')) for (const ip of records.AAAA) answers.push({ name: asked, type: 'AAAA', ttl, class: 'IN', data: ip })
    if (want('TXT')) for (const txt of records.TXT) answers.push({ name: asked, type: 'TXT', ttl, class: 'IN', data: txt })
    return { rcode: 'NOERROR', authoritative: true, answers, authorities: answers.length === 0 ? [this.soa()] : [] }
  }

  private soa (): ZoneRecord {
    return {
      name: this.origin,
      type: 'SOA',
      // RFC 2308: negative answers are cached for min(SOA TTL, MINIMUM); both short so new nodes show up soon
      ttl: Math.min(SOA_TTL_SECONDS, this.ttl),
      class: 'IN',
      data: {
        mname: this.origin,
        rname: `hostmaster.${this.origin}`,
        serial: this.currentSerial,
        refresh: REFRESH_SECONDS,
        retry: RETRY_SECONDS,
        expire: EXPIRE_SECONDS,
        minimum: this.ttl
      }
    }
  }

  private async current (): Promise<Snapshot> {
    if (this.snapshot != null && Date.now() - this.snapshot.at < this.snapshotMs) return this.snapshot
    // one nodes() call at a time, however many queries arrive meanwhile
    this.pending ??= this.build().finally(() => { this.pending = undefined })
    return await this.pending
  }

  private async build (): Promise<Snapshot> {
    const nodes = await this.components.nodes()
    const names = new Map<string, NameRecords>()
    for (const node of nodes) {
      if (node.mode !== 'shared' || node.state !== 'online' || node.revoked === true) continue
      const label = node.label.toLowerCase()
      // the registry sanitizes labels and names; a bad one here is skipped rather than served
      if (!LABEL.test(label) || !IPNS_NAME.test(node.ipns)) continue
      const host = `${label}.${this.origin}`
      if (names.has(host)) continue
      const ips = nodeAddresses(node, this.includeLoopback)
      names.set(host, { A: ips.filter(ip => isIPv4(ip)), AAAA: ips.filter(ip => !isIPv4(ip)), TXT: [] })
      names.set(`_dnslink.${host}`, { A: [], AAAA: [], TXT: [[`dnslink=/ipns/${node.ipns}`]] })
    }
    const fingerprint = JSON.stringify([...names].sort(([a], [b]) => a < b ? -1 : 1))
    if (fingerprint !== this.fingerprint) {
      this.fingerprint = fingerprint
      // seconds since the epoch survive restarts as "newer"; +1 keeps it rising when changes come faster
      this.currentSerial = Math.max(this.currentSerial + 1, Math.floor(Date.now() / 1000)) >>> 0
    }
    this.snapshot = { names, at: Date.now() }
    return this.snapshot
  }
}

/** Creates the zone: `A`/`AAAA` and `TXT _dnslink` for online shared nodes, `SOA`/`NS` at the apex. */
export function createZone (components: ZoneComponents, init: ZoneInit): Zone {
  return new NodeZone(components, init)
}
