import { Resolver } from 'node:dns/promises'
import { join } from 'node:path'
import { dnsLink } from '@helia/dnslink'
import { defaultLogger } from '@libp2p/logger'
import { RecordType, dns } from '@multiformats/dns'
import anyTest from 'ava'
import { loadServerConfig } from '../../../core/config/index.ts'
import { createDnsServer } from '../../../core/dns/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import { startServer } from '../../../node/server.ts'
import { TEST_ACCOUNTS } from '../../helpers/auth.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { nodeIdentity, zoneNode } from './nodes.ts'
import type { DnsServer, ZoneNode } from '../../../core/dns/index.ts'
import type { PeerId } from '@libp2p/interface'
import type { Answer } from '@multiformats/dns'
import type { DNSResolver } from '@multiformats/dns/resolvers'
import type { TestFn } from 'ava'

const ZONE = 'cidcast.internal'
const test = anyTest as TestFn<{ dns: DnsServer, resolver: Resolver, nodes: ZoneNode[], peerId: PeerId }>

test.before(async t => {
  const { peerId, ipns } = await nodeIdentity()
  const nodes = [
    await zoneNode('alpha', { ipns, url: 'http://[::1]:9001', addresses: ['/ip4/127.0.0.1/tcp/4001'] }),
    await zoneNode('beta', { url: 'http://beta.example', addresses: ['/ip4/127.0.0.2/tcp/4001', '/ip6/::1/tcp/4001'] }),
    await zoneNode('gamma', { state: 'offline' }),
    await zoneNode('delta', { mode: 'local' })
  ]
  const server = createDnsServer({ logger: silentLogger(), nodes: async () => nodes }, { listen: '127.0.0.1:0', zone: ZONE })
  await server.start()
  const resolver = new Resolver({ timeout: 2000, tries: 1 })
  resolver.setServers([`127.0.0.1:${server.address().port}`])
  t.context = { dns: server, resolver, nodes, peerId }
})

test.after.always(async t => {
  await t.context.dns?.stop()
})

/** A @multiformats/dns resolver that asks our server through node:dns (PITFALLS "DNS"). */
function resolverFor (resolver: Resolver): DNSResolver {
  return async (fqdn, options = {}) => {
    const types = options.types == null ? [RecordType.A, RecordType.AAAA] : [options.types].flat()
    const answers: Answer[] = []
    for (const type of types) {
      if (type === RecordType.TXT) {
        for (const chunks of await resolver.resolveTxt(fqdn)) answers.push({ name: fqdn, type, TTL: 30, data: chunks.join('') })
      } else if (type === RecordType.A || type === RecordType.AAAA) {
        const records = type === RecordType.A ? await resolver.resolve4(fqdn, { ttl: true }) : await resolver.resolve6(fqdn, { ttl: true })
        for (const r of records) answers.push({ name: fqdn, type, TTL: r.ttl, data: r.address })
      }
    }
    return { Status: 0, TC: false, RD: false, RA: false, AD: false, CD: false, Question: types.map(type => ({ name: fqdn, type })), Answer: answers }
  }
}

test('node:dns resolves A and AAAA of nodes, with their TTL', async t => {
  const { resolver } = t.context
  t.deepEqual(await resolver.resolve6(`alpha.${ZONE}`, { ttl: true }), [{ address: '::1', ttl: 30 }])
  t.deepEqual(await resolver.resolve4(`beta.${ZONE}`), ['127.0.0.2'])
  t.deepEqual(await resolver.resolve6(`BETA.${ZONE}`), ['::1'])
})

test('node:dns resolves the DNSLink TXT record, SOA and NS', async t => {
  const { resolver, nodes } = t.context
  t.deepEqual(await resolver.resolveTxt(`_dnslink.alpha.${ZONE}`), [[`dnslink=/ipns/${nodes[0].ipns}`]])
  t.like(await resolver.resolveSoa(ZONE), { nsname: ZONE, hostmaster: `hostmaster.${ZONE}`, refresh: 3600, retry: 600, expire: 604800, minttl: 30 })
  t.deepEqual(await resolver.resolveNs(ZONE), [ZONE])
})

test('node:dns sees unknown, offline and local names as not found and outside names as refused', async t => {
  const { resolver } = t.context
  for (const name of [`nobody.${ZONE}`, `gamma.${ZONE}`, `delta.${ZONE}`, `_dnslink.gamma.${ZONE}`]) {
    await t.throwsAsync(resolver.resolveTxt(name), { code: 'ENOTFOUND' }, name)
  }
  await t.throwsAsync(resolver.resolve4(`alpha.${ZONE}.example.com`), { code: 'EREFUSED' })
  await t.throwsAsync(resolver.resolveMx(`alpha.${ZONE}`), { code: 'ENODATA' })
})

test('@helia/dnslink resolves a node name to its IPNS name', async t => {
  const { resolver, peerId, nodes } = t.context
  const logger = defaultLogger()
  const links = dnsLink({ dns: dns({ resolvers: { '.': resolverFor(resolver) }, logger }), logger })
  const [result] = await links.resolve(`alpha.${ZONE}`, { signal: AbortSignal.timeout(5000) })
  if (result?.namespace !== 'ipns') throw new Error(`expected an IPNS result, got ${JSON.stringify(result)}`)
  t.is(result.answer.data, `dnslink=/ipns/${nodes[0].ipns}`)
  t.deepEqual(result.value.bytes, peerId.toMultihash().bytes)
  await t.throwsAsync(links.resolve(`gamma.${ZONE}`, { signal: AbortSignal.timeout(5000) }))
})

test('the zone and DNS address come from flags, environment and config, and bad ones are refused', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const defaults = await loadServerConfig({ data: dir.path }, {})
  t.is(defaults.dnsListen, '127.0.0.1:5353')
  t.is(defaults.dnsZone, ZONE)
  const env = await loadServerConfig({ data: dir.path }, { CIDCAST_DNS_ZONE: 'CDN.Example.', CIDCAST_DNS_LISTEN: '[::1]:53' })
  t.is(env.dnsZone, 'cdn.example')
  t.is(env.dnsListen, '[::1]:53')
  t.is((await loadServerConfig({ data: dir.path, dnsZone: 'flag.example' }, { CIDCAST_DNS_ZONE: 'env.example' })).dnsZone, 'flag.example')
  const zone = await t.throwsAsync(loadServerConfig({ data: dir.path, dnsZone: 'bad zone' }, {}), { name: 'InvalidConfigError' })
  t.regex(zone.message, /dnsZone/)
  const listen = await t.throwsAsync(loadServerConfig({ data: dir.path }, { CIDCAST_DNS_LISTEN: 'nowhere' }), { name: 'InvalidConfigError' })
  t.regex(listen.message, /dnsListen/)
})

test('the main server answers for its zone once started and stops answering when stopped', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const server = await startServer({ dataDir: join(dir.path, 'data'), listen: '127.0.0.1:0', dnsListen: '127.0.0.1:0', dnsZone: 'media.test', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', accounts: TEST_ACCOUNTS })
  let stopped = false
  t.teardown(async () => { if (!stopped) await server.stop() })
  t.is(server.dns.zone, 'media.test')
  const resolver = new Resolver({ timeout: 500, tries: 1 })
  resolver.setServers([`127.0.0.1:${server.dns.address().port}`])
  t.like(await resolver.resolveSoa('media.test'), { nsname: 'media.test' })
  await t.throwsAsync(resolver.resolve4('anything.media.test'), { code: 'ENOTFOUND' })
  await server.stop()
  stopped = true
  // UDP: the port answers with ICMP "unreachable" (ECONNREFUSED), or with nothing at all on some hosts
  const gone = await t.throwsAsync<Error & { code?: string }>(resolver.resolveSoa('media.test'))
  t.regex(gone.code ?? '', /^(ECONNREFUSED|ETIMEOUT)$/)
})
