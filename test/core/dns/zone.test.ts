import test from 'ava'
import { createZone, nodeAddresses } from '../../../core/dns/index.ts'
import { zoneNode } from './nodes.ts'
import type { ZoneNode } from '../../../core/dns/index.ts'

const ZONE = 'cidcast.internal'
const PEER = '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp'

test('a node URL with an IP literal gives that IP, whatever its multiaddrs say', t => {
  t.deepEqual(nodeAddresses({ url: 'http://192.0.2.7:8080', addresses: ['/ip4/198.51.100.1/tcp/4001'] }), ['192.0.2.7'])
  t.deepEqual(nodeAddresses({ url: 'http://[2001:db8::7]:8080/', addresses: [] }), ['2001:db8::7'])
})

test('a node URL with a host name gives the IPs of its multiaddrs, once each', t => {
  const addresses = [
    `/ip4/198.51.100.1/tcp/4001/p2p/${PEER}`,
    '/ip4/198.51.100.1/tcp/4002',
    '/ip6/2001:db8::1/tcp/4001',
    '/dns4/example.org/tcp/4001',
    'not a multiaddr'
  ]
  t.deepEqual(nodeAddresses({ url: 'https://node.example.org', addresses }), ['198.51.100.1', '2001:db8::1'])
})

test('unspecified, link-local and multicast addresses are never given', t => {
  const addresses = ['/ip4/0.0.0.0/tcp/1', '/ip6/::/tcp/1', '/ip6/fe80::1/tcp/1', '/ip4/169.254.1.1/tcp/1', '/ip4/224.0.0.251/udp/5353', '/ip4/10.0.0.5/tcp/1']
  t.deepEqual(nodeAddresses({ url: 'http://0.0.0.0:8080', addresses }), ['10.0.0.5'])
})

test('loopback addresses are kept for a loopback server and dropped otherwise', t => {
  const node = { url: 'http://127.0.0.1:9000', addresses: ['/ip6/::1/tcp/1', '/ip4/192.168.1.20/tcp/1'] }
  t.deepEqual(nodeAddresses(node, true), ['127.0.0.1'])
  t.deepEqual(nodeAddresses(node, false), ['192.168.1.20'])
})

test('only online shared nodes that are not revoked have names', async t => {
  const nodes = [
    await zoneNode('up'),
    await zoneNode('down', { state: 'offline' }),
    await zoneNode('mine', { mode: 'local' }),
    await zoneNode('banned', { revoked: true })
  ]
  const zone = createZone({ nodes: async () => nodes }, { zone: ZONE })
  t.is((await zone.answer({ name: `up.${ZONE}`, type: 'A' })).answers.length, 1)
  for (const label of ['down', 'mine', 'banned']) {
    for (const name of [`${label}.${ZONE}`, `_dnslink.${label}.${ZONE}`]) {
      const answer = await zone.answer({ name, type: 'TXT' })
      t.is(answer.rcode, 'NXDOMAIN', name)
      t.is(answer.authorities[0]?.type, 'SOA')
    }
  }
})

test('names match whatever their case and trailing dot, and answers keep the asker\'s case', async t => {
  const node = await zoneNode('alpha')
  const zone = createZone({ nodes: async () => [node] }, { zone: 'CIDCAST.Internal.' })
  t.is(zone.origin, ZONE)
  const answer = await zone.answer({ name: '_DNSLink.AlPhA.cidcast.INTERNAL.', type: 'TXT' })
  t.is(answer.rcode, 'NOERROR')
  t.deepEqual(answer.answers, [{ name: '_DNSLink.AlPhA.cidcast.INTERNAL', type: 'TXT', ttl: 30, class: 'IN', data: [`dnslink=/ipns/${node.ipns}`] }])
})

test('a known name asked for another type has no data and the SOA in authority', async t => {
  const zone = createZone({ nodes: async () => [await zoneNode('alpha')] }, { zone: ZONE })
  for (const [name, type] of [[`alpha.${ZONE}`, 'MX'], [`alpha.${ZONE}`, 'TXT'], [`_dnslink.alpha.${ZONE}`, 'A'], [ZONE, 'TXT']]) {
    const answer = await zone.answer({ name, type })
    t.is(answer.rcode, 'NOERROR', `${name} ${type}`)
    t.true(answer.authoritative)
    t.deepEqual(answer.answers, [])
    t.is(answer.authorities[0]?.type, 'SOA')
  }
})

test('names below a node, and lookalikes of the zone, do not exist or are not ours', async t => {
  const zone = createZone({ nodes: async () => [await zoneNode('alpha')] }, { zone: ZONE })
  t.is((await zone.answer({ name: `www.alpha.${ZONE}`, type: 'A' })).rcode, 'NXDOMAIN')
  const outside = await zone.answer({ name: 'evilcidcast.internal', type: 'A' })
  t.is(outside.rcode, 'REFUSED')
  t.false(outside.authoritative)
  t.is((await zone.answer({ name: 'internal', type: 'SOA' })).rcode, 'REFUSED')
  t.is((await zone.answer({ name: `version.${ZONE}`, type: 'TXT', class: 'CH' })).rcode, 'REFUSED')
  t.is((await zone.answer({ name: ZONE, type: 'AXFR' })).rcode, 'REFUSED')
})

test('the apex has SOA, NS and the name server\'s own addresses', async t => {
  const zone = createZone({ nodes: async () => [] }, { zone: ZONE, nameserverAddresses: ['127.0.0.1', '::1'] })
  const answer = await zone.answer({ name: ZONE, type: 'ANY' })
  t.deepEqual(answer.answers.map(a => a.type), ['SOA', 'NS', 'A', 'AAAA'])
  const soa = answer.answers[0]
  if (soa.type !== 'SOA') throw new Error('no SOA')
  t.like(soa.data, { mname: ZONE, rname: `hostmaster.${ZONE}`, refresh: 3600, retry: 600, expire: 604800, minimum: 30 })
  t.true(soa.data.serial > 1_700_000_000)
  t.deepEqual(answer.answers[1], { name: ZONE, type: 'NS', ttl: 3600, class: 'IN', data: ZONE })
})

test('the serial stays while the zone stays and rises when it changes', async t => {
  let nodes: ZoneNode[] = [await zoneNode('alpha')]
  const zone = createZone({ nodes: async () => nodes }, { zone: ZONE, snapshotMs: 0 })
  const serialOf = async (): Promise<number> => {
    const soa = (await zone.answer({ name: ZONE, type: 'SOA' })).answers[0]
    return soa.type === 'SOA' ? soa.data.serial : NaN
  }
  const first = await serialOf()
  t.is(await serialOf(), first)
  nodes = [...nodes, await zoneNode('beta')]
  const second = await serialOf()
  t.true(second > first)
  nodes = [{ ...nodes[0], state: 'offline' }, nodes[1]]
  t.true(await serialOf() > second)
  t.is(zone.serial(), await serialOf())
})

test('queries arriving together share one nodes() call, and invalidate() asks again', async t => {
  let calls = 0
  const nodes = [await zoneNode('alpha')]
  const zone = createZone({ nodes: async () => { calls++; return nodes } }, { zone: ZONE, snapshotMs: 60_000 })
  await Promise.all(Array.from({ length: 20 }, async () => await zone.answer({ name: `alpha.${ZONE}`, type: 'A' })))
  t.is(calls, 1)
  nodes.push(await zoneNode('beta'))
  t.is((await zone.answer({ name: `beta.${ZONE}`, type: 'A' })).rcode, 'NXDOMAIN')
  zone.invalidate()
  t.is((await zone.answer({ name: `beta.${ZONE}`, type: 'A' })).rcode, 'NOERROR')
  t.is(calls, 2)
})

test('labels and IPNS names that are not DNS-safe are skipped, and the first of two equal labels wins', async t => {
  const first = await zoneNode('alpha', { url: 'http://192.0.2.1' })
  const nodes = [
    await zoneNode('bad.label'),
    await zoneNode('-dash'),
    await zoneNode('evil', { ipns: 'k51"; injected' }),
    first,
    await zoneNode('ALPHA', { url: 'http://192.0.2.2' })
  ]
  const zone = createZone({ nodes: async () => nodes }, { zone: ZONE })
  t.is((await zone.answer({ name: `label.${ZONE}`, type: 'A' })).rcode, 'NXDOMAIN')
  t.is((await zone.answer({ name: `bad.label.${ZONE}`, type: 'A' })).rcode, 'NXDOMAIN')
  t.is((await zone.answer({ name: `-dash.${ZONE}`, type: 'A' })).rcode, 'NXDOMAIN')
  t.is((await zone.answer({ name: `evil.${ZONE}`, type: 'A' })).rcode, 'NXDOMAIN')
  t.deepEqual((await zone.answer({ name: `alpha.${ZONE}`, type: 'A' })).answers.map(a => a.data), ['192.0.2.1'])
})

test('an online node with no usable address still has its DNSLink name', async t => {
  const zone = createZone({ nodes: async () => [await zoneNode('alpha', { url: 'http://node.example', addresses: [] })] }, { zone: ZONE })
  const a = await zone.answer({ name: `alpha.${ZONE}`, type: 'A' })
  t.is(a.rcode, 'NOERROR')
  t.deepEqual(a.answers, [])
  t.is((await zone.answer({ name: `_dnslink.alpha.${ZONE}`, type: 'TXT' })).answers.length, 1)
})

test('a zone name that is not a DNS name is refused', t => {
  for (const zone of ['', 'bad zone', 'a..b', '-x.internal', `${'x'.repeat(64)}.internal`]) {
    t.throws(() => createZone({ nodes: async () => [] }, { zone }), { name: 'InvalidConfigError' }, zone)
  }
})
