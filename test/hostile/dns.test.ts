import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import { join } from 'node:path'
import anyTest from 'ava'
import { decode, encode } from 'dns-packet'
import { catalogProbe, serverSnapshot } from '../helpers/hostile.ts'
import { startTestServer } from '../helpers/server.ts'
import type { CatalogProbe } from '../helpers/hostile.ts'
import type { TestServer } from '../helpers/server.ts'
import type { TestFn } from 'ava'
import type { DecodedPacket as Decoded } from 'dns-packet'

type DecodedPacket = Decoded & { rcode?: string }

/*
 * Hostile packets to the main server's authoritative DNS (UDP and TCP): malformed, huge names, unknown types,
 * pointer loops, a burst. Each gets its deliberate answer or none, and a good query sent right after is answered
 * (no sleeping: the good query's reply is what the exchange waits for). Nothing in the catalog changes.
 */

const test = anyTest as TestFn<{ main: TestServer, probe: CatalogProbe, port: number, zone: string, snapshot: () => Promise<unknown> }>

test.before(async t => {
  const main = await startTestServer()
  const probe = catalogProbe(join(main.dir, 'data', 'catalog.sqlite'))
  t.context = { main, probe, port: main.server.dns.address().port, zone: main.server.dns.zone, snapshot: serverSnapshot(join(main.dir, 'data'), probe) }
})

test.after.always(async t => {
  t.context.probe?.close()
  await t.context.main?.stop()
})

const GOOD_ID = 4242

function query (id: number, name: string, type = 'SOA'): Buffer {
  return encode({ id, type: 'query', flags: 0, questions: [{ name, type: type as 'SOA' }] })
}

/**
 * Sends `packets` then a good query over UDP, again every 250 ms as a resolver would (after a burst the kernel may
 * drop a datagram); resolves with every reply up to the good one's (10 s at most).
 */
async function udpExchange (port: number, packets: Buffer[], good: Buffer): Promise<DecodedPacket[]> {
  const socket = createSocket('udp4')
  const replies: DecodedPacket[] = []
  try {
    return await new Promise((resolve, reject) => {
      const again = setInterval(() => { socket.send(good, port, '127.0.0.1') }, 250)
      const timer = setTimeout(() => { clearInterval(again); reject(new Error('no answer to the good query within 10 s')) }, 10_000)
      socket.on('message', message => {
        const reply: DecodedPacket = decode(message)
        replies.push(reply)
        if (reply.id === GOOD_ID) { clearTimeout(timer); clearInterval(again); resolve(replies) }
      })
      for (const p of packets) socket.send(p, port, '127.0.0.1')
      socket.send(good, port, '127.0.0.1')
    })
  } finally {
    socket.close()
  }
}

/** A packet with one question whose name is written label by label, as given (no checks on length). */
function rawQuestion (labels: Buffer[], type = 1): Buffer {
  const header = Buffer.alloc(12)
  header.writeUInt16BE(77, 0)
  header.writeUInt16BE(1, 4)
  const name = Buffer.concat([...labels.flatMap(l => [Buffer.from([l.length]), l]), Buffer.from([0])])
  const tail = Buffer.alloc(4)
  tail.writeUInt16BE(type, 0)
  tail.writeUInt16BE(1, 2)
  return Buffer.concat([header, name, tail])
}

/** What a case must get: no reply at all, or a reply with this rcode. */
type Expect = 'none' | string

const CASES: Array<[string, (zone: string) => Buffer, Expect]> = [
  ['five random bytes', () => Buffer.from([1, 2, 3, 4, 5]), 'none'],
  ['a header and no question', () => { const h = Buffer.alloc(12); h.writeUInt16BE(1, 4); return h }, 'none'],
  ['a name pointing at itself', () => { const h = Buffer.alloc(12); h.writeUInt16BE(1, 4); return Buffer.concat([h, Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]) }, 'none'],
  ['600 bytes of 0xff', () => Buffer.alloc(600, 0xff), 'none'],
  ['a response sent as a query', zone => encode({ id: 7, type: 'response', questions: [{ name: zone, type: 'A' }] }), 'none'],
  ['a label of 200 bytes', zone => rawQuestion([Buffer.alloc(200, 0x61), Buffer.from(zone)]), 'none'],
  ['a name of 600 bytes', zone => rawQuestion([...Array.from({ length: 10 }, () => Buffer.alloc(60, 0x62)), Buffer.from(zone)]), 'none'],
  ['a name with NUL and HTML in a label', zone => rawQuestion([Buffer.from('<x>\u0000'), ...zone.split('.').map(l => Buffer.from(l))]), 'FORMERR'],
  ['an unknown type (65280)', zone => rawQuestion(zone.split('.').map(l => Buffer.from(l)), 65280), 'NOERROR'],
  ['type ANY at the apex', zone => query(88, zone, 'ANY'), 'NOERROR'],
  ['a name outside the zone', () => query(89, 'etc.passwd.example'), 'REFUSED'],
  ['two questions', zone => encode({ id: 90, type: 'query', questions: [{ name: zone, type: 'A' }, { name: zone, type: 'A' }] }), 'FORMERR']
]

for (const [what, make, expect] of CASES) {
  test.serial(`a DNS packet with ${what} gets ${expect === 'none' ? 'no reply' : expect} and the server answers after`, async t => {
    const { port, zone } = t.context
    const before = await t.context.snapshot()
    const replies = await udpExchange(port, [make(zone)], query(GOOD_ID, zone))
    const others = replies.filter(r => r.id !== GOOD_ID)
    if (expect === 'none') t.deepEqual(others, [], what)
    else t.deepEqual(others.map(r => r.rcode), [expect], what)
    t.is(replies.at(-1)?.rcode, 'NOERROR')
    t.deepEqual(await t.context.snapshot(), before, `${what}: something changed`)
  })
}

test.serial('a burst of 2,000 queries is survived and a good query is answered after it', async t => {
  const { port, zone } = t.context
  const burst = Array.from({ length: 2000 }, (_, i) => query(10_000 + i, `n${i}.${zone}`, 'A'))
  const replies = await udpExchange(port, burst, query(GOOD_ID, zone))
  t.is(replies.at(-1)?.rcode, 'NOERROR')
  t.true(replies.filter(r => r.id !== GOOD_ID).every(r => r.rcode === 'NXDOMAIN'), 'every answered burst query is NXDOMAIN')
})

test.serial('a TCP connection that sends a 64 KiB length and garbage is closed, and TCP still answers', async t => {
  const { port, zone } = t.context
  const bad = connect(port, '127.0.0.1')
  const closed = new Promise<void>(resolve => { bad.once('close', () => { resolve() }) })
  bad.on('error', () => {})
  bad.write(Buffer.concat([Buffer.from([0xff, 0xff]), Buffer.alloc(4000, 0x41)]))
  bad.end()
  await closed
  const good = connect(port, '127.0.0.1')
  const packet = query(GOOD_ID, zone)
  const framed = Buffer.concat([Buffer.from([packet.length >> 8, packet.length & 0xff]), packet])
  const reply = await new Promise<DecodedPacket>((resolve, reject) => {
    let got = Buffer.alloc(0)
    good.on('error', reject)
    good.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d])
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) resolve(decode(got.subarray(2, 2 + got.readUInt16BE(0))) as DecodedPacket)
    })
    good.write(framed)
  })
  good.destroy()
  t.is(reply.id, GOOD_ID)
  t.is(reply.rcode, 'NOERROR')
})
