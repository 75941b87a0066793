import { execFile } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { connect } from 'node:net'
import { Writable } from 'node:stream'
import { promisify } from 'node:util'
import anyTest from 'ava'
import { decode as decodePacket, encode } from 'dns-packet'
import { createDnsServer } from '../../../core/dns/index.ts'
import { createLogger, silentLogger } from '../../../core/logger.ts'
import { zoneNode } from './nodes.ts'
import type { DnsServer, ZoneNode } from '../../../core/dns/index.ts'
import type { TestFn } from 'ava'
import type { DecodedPacket, Packet } from 'dns-packet'
import type { Socket } from 'node:net'

const ZONE = 'cidcast.internal'
/** dns-packet decodes the rcode too; its types leave it out. */
type Reply = DecodedPacket & { rcode: string }
const decode = (message: Buffer): Reply => decodePacket(message) as Reply
const run = promisify(execFile)
const test = anyTest as TestFn<{ dns: DnsServer, port: number, nodes: ZoneNode[] }>
/** The server closes idle TCP connections after this long; long enough that a loaded machine never hits it mid-test. */
const IDLE_MS = 2000

test.beforeEach(async t => {
  const nodes = [
    await zoneNode('alpha', { url: 'http://127.0.0.1:9001' }),
    await zoneNode('beta', { url: 'http://beta.example:9002', addresses: ['/ip4/127.0.0.2/tcp/4001', '/ip6/::1/tcp/4001'] }),
    await zoneNode('gamma', { state: 'offline', url: 'http://127.0.0.3:9003' }),
    await zoneNode('delta', { mode: 'local', url: 'http://127.0.0.4:9004' }),
    // enough AAAA records that the answer cannot fit in 512 bytes
    await zoneNode('wide', { url: 'http://wide.example', addresses: Array.from({ length: 40 }, (_, i) => `/ip6/2001:db8::${i + 1}/tcp/4001`) })
  ]
  // a copy the test may change: the server reads whatever the array holds at query time
  const live = [...nodes]
  const dns = createDnsServer({ logger: silentLogger(), nodes: async () => live }, { listen: '127.0.0.1:0', zone: ZONE, tcpIdleMs: IDLE_MS })
  await dns.start()
  t.context = { dns, port: dns.address().port, nodes: live }
})

test.afterEach.always(async t => {
  await t.context.dns?.stop()
})

/** Runs dig against the server, asynchronously (a sync child would block the server in this process). */
async function dig (port: number, ...args: string[]): Promise<{ out: string, status: string, flags: string[], answers: string[] }> {
  const { stdout: out } = await run('dig', ['@127.0.0.1', '-p', String(port), '+norec', '+time=2', '+tries=1', ...args])
  const status = /status: (\w+)/.exec(out)?.[1] ?? 'none'
  const flags = /;; flags: ([a-z ]*);/.exec(out)?.[1].trim().split(' ') ?? []
  const section = /;; ANSWER SECTION:\n([\s\S]*?)\n\n/.exec(out)?.[1] ?? ''
  const answers = section.split('\n').filter(l => l !== '').map(l => l.split(/\s+/).join(' '))
  return { out, status, flags, answers }
}

test('dig gets the A record of a node from its URL, authoritative, with a short TTL', async t => {
  const r = await dig(t.context.port, `alpha.${ZONE}`, 'A')
  t.is(r.status, 'NOERROR')
  t.true(r.flags.includes('aa'))
  t.deepEqual(r.answers, [`alpha.${ZONE}. 30 IN A 127.0.0.1`])
})

test('dig gets A and AAAA records from a node\'s multiaddrs when its URL has a host name', async t => {
  t.deepEqual((await dig(t.context.port, `beta.${ZONE}`, 'A')).answers, [`beta.${ZONE}. 30 IN A 127.0.0.2`])
  t.deepEqual((await dig(t.context.port, `beta.${ZONE}`, 'AAAA')).answers, [`beta.${ZONE}. 30 IN AAAA ::1`])
})

test('dig gets the DNSLink TXT record of a node', async t => {
  const r = await dig(t.context.port, `_dnslink.alpha.${ZONE}`, 'TXT')
  t.deepEqual(r.answers, [`_dnslink.alpha.${ZONE}. 30 IN TXT "dnslink=/ipns/${t.context.nodes[0].ipns}"`])
})

test('dig gets SOA and NS at the apex', async t => {
  const soa = await dig(t.context.port, ZONE, 'SOA', '+short')
  t.regex(soa.out.trim(), new RegExp(`^${ZONE}\\. hostmaster\\.${ZONE}\\. \\d{10} 3600 600 604800 30$`))
  const ns = await dig(t.context.port, ZONE, 'NS')
  t.deepEqual(ns.answers, [`${ZONE}. 3600 IN NS ${ZONE}.`])
  t.deepEqual((await dig(t.context.port, ZONE, 'A')).answers, [`${ZONE}. 3600 IN A 127.0.0.1`])
})

test('an unknown name in the zone is NXDOMAIN with the SOA in authority', async t => {
  const r = await dig(t.context.port, `nobody.${ZONE}`, 'A')
  t.is(r.status, 'NXDOMAIN')
  t.true(r.flags.includes('aa'))
  t.regex(r.out, /AUTHORITY: 1/)
  t.regex(r.out, new RegExp(`;; AUTHORITY SECTION:\\n${ZONE}\\.\\s+30\\s+IN\\s+SOA`))
})

test('offline and local nodes have no names at all', async t => {
  for (const label of ['gamma', 'delta']) {
    t.is((await dig(t.context.port, `${label}.${ZONE}`, 'A')).status, 'NXDOMAIN', label)
    t.is((await dig(t.context.port, `_dnslink.${label}.${ZONE}`, 'TXT')).status, 'NXDOMAIN', label)
  }
})

test('a known name asked for another type is NOERROR with no answer', async t => {
  const r = await dig(t.context.port, `alpha.${ZONE}`, 'MX')
  t.is(r.status, 'NOERROR')
  t.deepEqual(r.answers, [])
  t.regex(r.out, /AUTHORITY: 1/)
})

test('a name outside the zone is REFUSED and not authoritative', async t => {
  const r = await dig(t.context.port, 'example.com', 'A')
  t.is(r.status, 'REFUSED')
  t.false(r.flags.includes('aa'))
  t.is((await dig(t.context.port, 'evilcidcast.internal', 'A')).status, 'REFUSED')
})

test('names are case-insensitive', async t => {
  const r = await dig(t.context.port, 'AlPhA.CIDCAST.Internal', 'A')
  t.is(r.status, 'NOERROR')
  t.is(r.answers.length, 1)
  t.regex(r.answers[0], /127\.0\.0\.1$/)
})

test('dig gets the same answers over TCP', async t => {
  const r = await dig(t.context.port, '+tcp', `_dnslink.alpha.${ZONE}`, 'TXT')
  t.regex(r.out, /\(TCP\)/)
  t.deepEqual(r.answers, [`_dnslink.alpha.${ZONE}. 30 IN TXT "dnslink=/ipns/${t.context.nodes[0].ipns}"`])
  t.is((await dig(t.context.port, '+tcp', `nobody.${ZONE}`, 'A')).status, 'NXDOMAIN')
})

test('an answer over 512 bytes without EDNS is truncated on UDP and whole on TCP', async t => {
  const udp = await dig(t.context.port, '+noedns', '+ignore', `wide.${ZONE}`, 'AAAA')
  t.true(udp.flags.includes('tc'))
  t.deepEqual(udp.answers, [])
  t.regex(udp.out, /MSG SIZE\s+rcvd: (\d+)/)
  t.true(Number(/MSG SIZE\s+rcvd: (\d+)/.exec(udp.out)?.[1]) <= 512)
  // without +ignore dig retries over TCP on TC, as resolvers do
  const retried = await dig(t.context.port, '+noedns', `wide.${ZONE}`, 'AAAA')
  t.false(retried.flags.includes('tc'))
  t.is(retried.answers.length, 40)
})

test('an EDNS version other than 0 is answered BADVERS', async t => {
  t.is((await dig(t.context.port, '+edns=1', '+noednsneg', `alpha.${ZONE}`, 'A')).status, 'BADVERS')
})

test('changes of the nodes show after invalidate()', async t => {
  const { dns, port, nodes } = t.context
  nodes.push(await zoneNode('late', { url: 'http://127.0.0.9:9009' }))
  nodes[0] = { ...nodes[0], state: 'offline' }
  dns.invalidate()
  t.deepEqual((await dig(port, `late.${ZONE}`, 'A')).answers, [`late.${ZONE}. 30 IN A 127.0.0.9`])
  t.is((await dig(port, `alpha.${ZONE}`, 'A')).status, 'NXDOMAIN')
})

test('a failing nodes source gives SERVFAIL and the server keeps answering', async t => {
  let fail = true
  const dns = createDnsServer({ logger: silentLogger(), nodes: async () => { if (fail) throw new Error('database gone'); return [] } }, { listen: '127.0.0.1:0' })
  await dns.start()
  t.teardown(async () => { await dns.stop() })
  const port = dns.address().port
  t.is((await dig(port, `alpha.${ZONE}`, 'A')).status, 'SERVFAIL')
  fail = false
  t.is((await dig(port, `alpha.${ZONE}`, 'A')).status, 'NXDOMAIN')
})

/** Sends datagrams from one socket and collects every reply until the reply to `id` arrives. */
async function udpExchange (port: number, messages: Buffer[], id: number): Promise<Reply[]> {
  const socket = createSocket('udp4')
  const replies: Reply[] = []
  try {
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('no reply')) }, 3000)
      socket.on('message', message => {
        const reply = decode(message)
        replies.push(reply)
        if (reply.id === id) { clearTimeout(timer); resolve() }
      })
    })
    for (const message of messages) socket.send(message, port, '127.0.0.1')
    await done
    return replies
  } finally {
    socket.close()
  }
}

const query = (id: number, name: string, type: 'A' | 'TXT' = 'A', extra: Partial<Packet> = {}): Buffer =>
  encode({ id, type: 'query', flags: 0, questions: [{ name, type, class: 'IN' }], ...extra })

test('malformed UDP packets are dropped without a reply and without harm', async t => {
  const header = Buffer.alloc(12)
  header.writeUInt16BE(1, 4) // one question, then nothing
  const badPointer = Buffer.concat([header, Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]) // a name pointing at itself
  const response = encode({ id: 7, type: 'response', questions: [{ name: `alpha.${ZONE}`, type: 'A' }] })
  const garbage = [Buffer.from([1, 2, 3, 4, 5]), header, badPointer, Buffer.alloc(600, 0xff), response]
  const replies = await udpExchange(t.context.port, [...garbage, query(4242, `alpha.${ZONE}`)], 4242)
  t.deepEqual(replies.map(r => r.id), [4242])
  t.is(replies[0].rcode, 'NOERROR')
})

test('thousands of mangled queries over UDP and TCP get an answer or nothing, never an error or a crash', async t => {
  const errors: string[] = []
  const logger = createLogger({ level: 'error', destination: new Writable({ write (chunk, _encoding, done) { errors.push(String(chunk)); done() } }) })
  const dns = createDnsServer({ logger, nodes: async () => t.context.nodes }, { listen: '127.0.0.1:0' })
  await dns.start()
  t.teardown(async () => { await dns.stop() })
  const port = dns.address().port
  const base = encode({
    id: 9,
    type: 'query',
    questions: [{ name: `_dnslink.alpha.${ZONE}`, type: 'TXT' }],
    additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [{ code: 12, length: 8 }] }]
  })
  // a fixed-seed generator: a failure here can be replayed
  let seed = 0x2545f491
  const random = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n }
  const mangled = Array.from({ length: 3000 }, () => {
    const m = Buffer.from(base)
    for (let flips = 1 + random(4); flips > 0; flips--) m[random(m.length)] = random(256)
    return random(5) === 0 ? m.subarray(0, random(m.length)) : m
  })
  const udp = createSocket('udp4')
  t.teardown(() => { udp.close() })
  for (const [i, m] of mangled.entries()) {
    udp.send(m, port, '127.0.0.1')
    // let the server drain its socket now and then, so the kernel drops nothing it should have seen
    if (i % 100 === 99) await new Promise(resolve => setImmediate(resolve))
  }
  const tcp = await tcpClient(port)
  const frames = mangled.slice(0, 300).filter(m => m.length >= 12)
  for (const m of frames) tcp.send(m)
  // either every frame is answered, or the first bad one closes the connection
  await Promise.race([tcp.closed, (async () => { for (let i = 0; i < frames.length; i++) await tcp.next() })()])
  tcp.socket.destroy()
  t.is((await udpExchange(port, [query(4243, `alpha.${ZONE}`)], 4243)).at(-1)?.rcode, 'NOERROR')
  t.is((await dig(port, '+tcp', `alpha.${ZONE}`, 'A')).status, 'NOERROR')
  t.deepEqual(errors, [])
})

test('queries with two questions are FORMERR and other opcodes NOTIMP', async t => {
  const two = encode({ id: 1, type: 'query', questions: [{ name: `alpha.${ZONE}`, type: 'A' }, { name: `beta.${ZONE}`, type: 'A' }] })
  const status = encode({ id: 2, type: 'query', flags: 2 << 11, questions: [{ name: `alpha.${ZONE}`, type: 'A' }] })
  t.is((await udpExchange(t.context.port, [two], 1)).at(-1)?.rcode, 'FORMERR')
  t.is((await udpExchange(t.context.port, [status], 2)).at(-1)?.rcode, 'NOTIMP')
  // a label of bytes that are not text, and an empty label inside a name: FORMERR, the question not echoed
  for (const label of [Buffer.alloc(63, 0xff), Buffer.from('a..b')]) {
    const header = Buffer.from([0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    const message = Buffer.concat([header, Buffer.from([label.length]), label, Buffer.from([7]), Buffer.from('cidcast'), Buffer.from([8]), Buffer.from('internal'), Buffer.from([0, 0, 1, 0, 1])])
    const [reply] = await udpExchange(t.context.port, [message], 3)
    t.is(reply.rcode, 'FORMERR')
    t.deepEqual(reply.questions, [])
  }
})

/** A TCP connection to the server that decodes length-framed answers as they come. */
async function tcpClient (port: number): Promise<{ socket: Socket, send: (m: Buffer) => void, next: () => Promise<Reply>, closed: Promise<unknown> }> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  // a server closing on garbage may reset the connection: 'close' is what matters, not the error
  socket.on('error', () => {})
  const closed = new Promise(resolve => socket.once('close', resolve))
  let buffered = Buffer.alloc(0)
  const waiting: Array<{ resolve: (p: Reply) => void, reject: (err: Error) => void }> = []
  const ready: Reply[] = []
  // a reply that will never come fails the test at once instead of leaving it pending
  void closed.then(() => { for (const w of waiting.splice(0)) w.reject(new Error('the server closed the connection before replying')) })
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk])
    while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
      const packet = decode(buffered.subarray(2, 2 + buffered.readUInt16BE(0)))
      buffered = buffered.subarray(2 + buffered.readUInt16BE(0))
      const waiter = waiting.shift()
      if (waiter != null) waiter.resolve(packet); else ready.push(packet)
    }
  })
  const frame = (m: Buffer): Buffer => { const b = Buffer.alloc(2 + m.length); b.writeUInt16BE(m.length); m.copy(b, 2); return b }
  return {
    socket,
    closed,
    send: m => { socket.write(frame(m)) },
    next: async () => ready.shift() ?? await new Promise<Reply>((resolve, reject) => {
      if (socket.destroyed) reject(new Error('the connection is closed')); else waiting.push({ resolve, reject })
    })
  }
}

test('one TCP connection carries several queries, pipelined and split across writes, answered in order', async t => {
  const client = await tcpClient(t.context.port)
  t.teardown(() => { client.socket.destroy() })
  // two queries in one write, and a third split in the middle of its length prefix
  const first = query(1, `alpha.${ZONE}`)
  const second = query(2, `_dnslink.beta.${ZONE}`, 'TXT')
  client.socket.write(Buffer.concat([Buffer.from([0, first.length]), first, Buffer.from([0, second.length]), second, Buffer.from([0])]))
  const third = query(3, `nobody.${ZONE}`)
  client.socket.write(Buffer.concat([Buffer.from([third.length]), third]))
  const answers = [await client.next(), await client.next(), await client.next()]
  t.deepEqual(answers.map(a => a.id), [1, 2, 3])
  t.deepEqual(answers.map(a => a.rcode), ['NOERROR', 'NOERROR', 'NXDOMAIN'])
  t.like(answers[0].answers?.[0], { type: 'A', data: '127.0.0.1' })
  client.send(query(4, `beta.${ZONE}`))
  t.is((await client.next()).id, 4)
})

test('a TCP connection sending garbage is closed and the server keeps answering', async t => {
  const garbage = await tcpClient(t.context.port)
  garbage.send(Buffer.alloc(40, 0xff))
  await garbage.closed
  const short = await tcpClient(t.context.port)
  short.socket.write(Buffer.from([0, 3, 1, 2, 3]))
  await short.closed
  t.is((await dig(t.context.port, '+tcp', `alpha.${ZONE}`, 'A')).status, 'NOERROR')
})

test('an idle TCP connection is closed by the server', async t => {
  const client = await tcpClient(t.context.port)
  client.send(query(1, `alpha.${ZONE}`))
  t.is((await client.next()).id, 1)
  // tcpIdleMs is IDLE_MS in these tests: the close comes from the server, not from us
  await client.closed
  t.pass()
})

test('on a specific address the server shares UDP with an mDNS responder on the wildcard address, and answers', async t => {
  // what avahi does on *:5353
  const mdns = createSocket({ type: 'udp4', reuseAddr: true })
  mdns.bind(0, '0.0.0.0')
  await once(mdns, 'listening')
  t.teardown(() => { mdns.close() })
  let stolen = 0
  mdns.on('message', () => { stolen++ })
  const port = mdns.address().port
  const dns = createDnsServer({ logger: silentLogger(), nodes: async () => t.context.nodes }, { listen: `127.0.0.1:${port}` })
  await dns.start()
  t.teardown(async () => { await dns.stop() })
  t.deepEqual((await dig(port, `alpha.${ZONE}`, 'A')).answers, [`alpha.${ZONE}. 30 IN A 127.0.0.1`])
  t.is(stolen, 0)
})

test('a second server on the same port is refused with PortInUseError naming dnsListen', async t => {
  const second = createDnsServer({ logger: silentLogger(), nodes: async () => [] }, { listen: `127.0.0.1:${t.context.port}` })
  const err = await t.throwsAsync(second.start(), { name: 'PortInUseError' })
  t.regex(err.message, /dnsListen 127\.0\.0\.1:\d+ is in use/)
  // and the first one still answers
  t.is((await dig(t.context.port, `alpha.${ZONE}`, 'A')).status, 'NOERROR')
})

test('stop() closes open TCP connections and frees the port', async t => {
  const client = await tcpClient(t.context.port)
  await t.context.dns.stop()
  await client.closed
  const again = createDnsServer({ logger: silentLogger(), nodes: async () => [] }, { listen: `127.0.0.1:${t.context.port}` })
  await again.start()
  t.is(again.address().port, t.context.port)
  await again.stop()
})
