import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { createServer, isIPv6 } from 'node:net'
import { AUTHORITATIVE_ANSWER, RECURSION_DESIRED, TRUNCATED_RESPONSE, decode, encode } from 'dns-packet'
import { listenOnFirstFree, parseListen } from '../listen.ts'
import { createZone } from './zone.ts'
import type { ZoneNode, Zone } from './zone.ts'
import type { Logger } from '../logger.ts'
import type { ListenSetting } from '../listen.ts'
import type { Answer, DecodedPacket, OptAnswer, Packet } from 'dns-packet'
import type { Socket as UdpSocket } from 'node:dgram'
import type { Server as TcpServer, Socket } from 'node:net'

export interface DnsServerInit {
  /**
   * `HOST:PORT` for both UDP and TCP; port 0 picks one free for both. A string is used as it is (taken: a
   * `PortInUseError` naming `dnsListen`); a `ListenSetting` names what set it, or without `setBy` is a default that
   * moves to a free port when taken. @default 127.0.0.1:5353, as a default
   */
  listen?: string | ListenSetting
  /** The zone served. @default cidcast.internal */
  zone?: string
  /** TTL of node records (and of negative answers). @default 30 */
  ttlSeconds?: number
  /** A TCP connection with no query for this long is closed (RFC 7766 suggests seconds). @default 10000 */
  tcpIdleMs?: number
  /** Most TCP connections at once; more are refused by the kernel backlog and then dropped. @default 128 */
  maxTcpConnections?: number
}

export interface DnsServerComponents {
  logger: Logger
  /** The current nodes; the zone keeps online shared ones. */
  nodes: () => Promise<ZoneNode[]>
}

/** The main server's authoritative DNS for its zone, over UDP and TCP on one port. */
export interface DnsServer {
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Where it answers (valid after `start`; the port is the bound one when 0 was asked). */
  address: () => { host: string, port: number }
  /** The zone, lower case, no trailing dot. */
  readonly zone: string
  /** Forgets the nodes snapshot: call on registry changes so answers follow at once. */
  invalidate: () => void
}

export const DEFAULT_DNS_LISTEN = '127.0.0.1:5353'
export const DEFAULT_DNS_ZONE = 'cidcast.internal'

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const
const OPCODE_MASK = 0x7800
/** Classic DNS over UDP, without EDNS (RFC 1035 4.2.1). */
const UDP_CLASSIC_BYTES = 512
/** What we offer and accept with EDNS: the DNS flag day 2020 size, safe from fragmentation. */
const UDP_EDNS_BYTES = 1232
const TCP_MAX_PENDING = 32
const PORT_ATTEMPTS = 10
/** Names that survive dns-packet's decode and re-encode: printable ASCII labels of 1..63 characters. */
const WIRE_SAFE_NAME = /^(?:\.|[!-\-/-~]{1,63}(?:\.[!-\-/-~]{1,63})*)$/

const isLoopbackHost = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\./.test(host)

class ZoneServer implements DnsServer {
  readonly zone: string
  private readonly log: Logger
  private readonly records: Zone
  private readonly host: string
  private readonly setting: ListenSetting
  private readonly wildcard: boolean
  private readonly tcpIdleMs: number
  private readonly maxTcpConnections: number
  private udp?: UdpSocket
  private tcp?: TcpServer
  private readonly sockets = new Set<Socket>()
  private bound = 0
  private running = false

  constructor (components: DnsServerComponents, init: DnsServerInit) {
    this.setting = typeof init.listen === 'string'
      ? { key: 'dnsListen', address: init.listen, setBy: 'dnsListen' }
      : init.listen ?? { key: 'dnsListen', address: DEFAULT_DNS_LISTEN }
    const { host } = parseListen(this.setting.address, 'dnsListen')
    this.host = host
    this.log = components.logger.child({ name: 'cidcast:dns' })
    this.wildcard = host === '0.0.0.0' || host === '::'
    this.records = createZone({ nodes: components.nodes }, {
      zone: init.zone ?? DEFAULT_DNS_ZONE,
      ttlSeconds: init.ttlSeconds,
      // a server that only loopback clients can reach serves loopback nodes; one reachable from elsewhere must not
      includeLoopback: isLoopbackHost(host),
      nameserverAddresses: this.wildcard || host === 'localhost' ? [] : [host]
    })
    this.zone = this.records.origin
    this.tcpIdleMs = init.tcpIdleMs ?? 10_000
    this.maxTcpConnections = init.maxTcpConnections ?? 128
  }

  address (): { host: string, port: number } {
    return { host: this.host, port: this.bound }
  }

  invalidate (): void {
    this.records.invalidate()
  }

  async start (): Promise<void> {
    if (this.running) return
    const { port } = await listenOnFirstFree(this.setting, async port => await this.bind(port), this.log)
    this.bound = port
    this.running = true
    this.log.info({ host: this.host, port: this.bound, zone: this.zone }, 'DNS listening on UDP and TCP')
  }

  /** Binds UDP and TCP on one port (0: one free for both); rejects with Node's errno error, leaving nothing bound. */
  private async bind (port: number): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      let udp: UdpSocket | undefined
      let tcp: TcpServer | undefined
      try {
        if (port === 0) {
          // UDP picks a free port and TCP must get the same one; another process may hold it on TCP, so retry
          udp = await this.bindUdp(0, false)
          tcp = await this.bindTcp(udp.address().port)
        } else {
          // TCP first: a port another DNS server holds is refused before our UDP socket could take its packets.
          // SO_REUSEADDR on a specific address lets an mDNS responder (avahi) keep *:5353 while unicast to this
          // address comes here; not on a wildcard address, where mDNS multicast would arrive too.
          tcp = await this.bindTcp(port)
          udp = await this.bindUdp(port, !this.wildcard)
        }
        this.udp = udp
        this.tcp = tcp
        return udp.address().port
      } catch (err) {
        udp?.close()
        tcp?.close()
        if (port === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < PORT_ATTEMPTS) continue
        throw err
      }
    }
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    const udp = this.udp
    const tcp = this.tcp
    this.udp = undefined
    this.tcp = undefined
    for (const socket of this.sockets) socket.destroy()
    this.sockets.clear()
    await Promise.all([
      udp == null ? undefined : new Promise<void>(resolve => { udp.close(() => { resolve() }) }),
      tcp == null ? undefined : new Promise<void>(resolve => { tcp.close(() => { resolve() }) })
    ])
  }

  private async bindUdp (port: number, reuseAddr: boolean): Promise<UdpSocket> {
    const udp = createSocket({ type: isIPv6(this.host) ? 'udp6' : 'udp4', reuseAddr })
    udp.bind(port, this.host)
    try {
      await Promise.race([once(udp, 'listening'), once(udp, 'error').then(([err]) => { throw err })])
    } catch (err) {
      udp.close()
      throw err
    }
    udp.on('error', err => { this.log.warn({ err }, 'UDP socket error') })
    udp.on('message', (message, remote) => {
      this.respond(message, 'udp').then(reply => {
        if (reply != null && this.running) udp.send(reply, remote.port, remote.address, err => { if (err != null) this.log.debug({ err }, 'UDP send failed') })
      }, err => { this.log.error({ err }, 'DNS over UDP failed') })
    })
    return udp
  }

  private async bindTcp (port: number): Promise<TcpServer> {
    const tcp = createServer(socket => { this.serveTcp(socket) })
    tcp.maxConnections = this.maxTcpConnections
    tcp.listen(port, this.host)
    await Promise.race([once(tcp, 'listening'), once(tcp, 'error').then(([err]) => { throw err })])
    tcp.on('error', err => { this.log.warn({ err }, 'TCP listener error') })
    return tcp
  }

  /** RFC 7766: each message has a 2-byte length; several per connection; answers in order; idle ones closed. */
  private serveTcp (socket: Socket): void {
    this.sockets.add(socket)
    socket.setNoDelay(true)
    socket.setTimeout(this.tcpIdleMs, () => { socket.destroy() })
    socket.on('error', () => {})
    socket.on('close', () => { this.sockets.delete(socket) })
    let buffered: Buffer = Buffer.alloc(0)
    let pending = 0
    let chain = Promise.resolve()
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0)
        if (length < 12) { socket.destroy(); return }
        if (buffered.length < 2 + length) break
        const message = buffered.subarray(2, 2 + length)
        buffered = buffered.subarray(2 + length)
        pending++
        // a client that floods queries without reading answers gets no more reads until it catches up
        if (pending >= TCP_MAX_PENDING) socket.pause()
        chain = chain.then(async () => {
          const reply = await this.respond(message, 'tcp')
          if (socket.destroyed) return
          if (reply == null) { socket.destroy(); return }
          const frame = Buffer.alloc(2 + reply.length)
          frame.writeUInt16BE(reply.length, 0)
          reply.copy(frame, 2)
          socket.write(frame)
        }).catch(err => {
          this.log.error({ err }, 'DNS over TCP failed')
          socket.destroy()
        }).finally(() => {
          if (--pending < TCP_MAX_PENDING && socket.isPaused()) socket.resume()
        })
      }
    })
  }

  /** The wire reply to one message, or undefined to drop it (undecodable, or not a query at all). */
  private async respond (message: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    let query: DecodedPacket
    try {
      query = decode(message)
    } catch (err) {
      this.log.debug({ err, transport, bytes: message.length }, 'malformed DNS message dropped')
      return undefined
    }
    // answering a response would let two servers bounce packets at each other forever
    if (query.flag_qr) return undefined
    const queryFlags = query.flags ?? 0
    const questions = query.questions ?? []
    const opts = (query.additionals ?? []).filter((a): a is OptAnswer => a.type === 'OPT')
    const edns = opts[0]
    let flags = queryFlags & (OPCODE_MASK | RECURSION_DESIRED)
    let extendedRcode = 0
    let answers: Answer[] = []
    let authorities: Answer[] = []
    let echo = questions
    if ((queryFlags & OPCODE_MASK) !== 0) {
      flags |= RCODE.NOTIMP
    } else if (questions.length !== 1 || opts.length > 1 || !WIRE_SAFE_NAME.test(questions[0].name)) {
      // a name of raw bytes would not encode back as it came: answer without echoing it
      flags |= RCODE.FORMERR
      echo = []
    } else if (edns != null && edns.ednsVersion !== 0) {
      // BADVERS (16): the upper 8 bits of the 12-bit rcode travel in the OPT record
      extendedRcode = 1
    } else {
      try {
        const answer = await this.records.answer(questions[0])
        flags |= RCODE[answer.rcode] | (answer.authoritative ? AUTHORITATIVE_ANSWER : 0)
        answers = answer.answers as Answer[]
        authorities = answer.authorities as Answer[]
      } catch (err) {
        this.log.warn({ err }, 'cannot read the nodes: SERVFAIL')
        flags |= RCODE.SERVFAIL
      }
    }
    const additionals: Answer[] = edns == null
      ? []
      : [{ name: '.', type: 'OPT', udpPayloadSize: UDP_EDNS_BYTES, extendedRcode, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
    const reply: Packet = { id: query.id, type: 'response', flags, questions: echo, answers, authorities, additionals }
    const wire = encode(reply)
    const limit = transport === 'tcp'
      ? 65_535
      : edns == null ? UDP_CLASSIC_BYTES : Math.min(Math.max(edns.udpPayloadSize, UDP_CLASSIC_BYTES), UDP_EDNS_BYTES)
    if (wire.length <= limit) return wire
    // RFC 2181 9: send no part of an RRset, only the flag; the client asks again over TCP
    const cut = transport === 'udp' ? flags | TRUNCATED_RESPONSE : (flags & ~0xf) | RCODE.SERVFAIL
    return encode({ ...reply, flags: cut, answers: [], authorities: [] })
  }
}

/** Creates the DNS server for the zone; `start()` binds UDP and TCP. */
export function createDnsServer (components: DnsServerComponents, init: DnsServerInit = {}): DnsServer {
  return new ZoneServer(components, init)
}
