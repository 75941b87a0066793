import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import anyTest from 'ava'
import { IPNS_RECORD_CONTENT_TYPE, ipnsNameOf, signIpnsRecord } from '../../core/routing/ipns-records.ts'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { catalogProbe, hostileTests, runCase, serverSnapshot } from '../helpers/hostile.ts'
import { startTestServer } from '../helpers/server.ts'
import type { CatalogProbe, HostileTarget, HttpCase } from '../helpers/hostile.ts'
import type { TestServer } from '../helpers/server.ts'
import type { TestFn } from 'ava'

/*
 * Hostile input to the main server's Delegated Routing V1 (`/routing/v1`, public: IPNS records are signed, providers
 * and peers are public facts): garbage and wrongly signed IPNS records, names and CIDs that are not. No record
 * may be kept, nothing else may change.
 */

const test = anyTest as TestFn<{ main: TestServer, probe: CatalogProbe, target: HostileTarget, bodies: Record<string, Uint8Array> }>
const CONTENT = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

test.before(async t => {
  const main = await startTestServer()
  const key = await generateKeyPair('Ed25519')
  const other = await generateKeyPair('Ed25519')
  const name = ipnsNameOf(peerIdFromPrivateKey(key))
  const good = await signIpnsRecord(key, `/ipfs/${CONTENT}`, 1)
  const bodies: Record<string, Uint8Array> = {
    good,
    otherKey: await signIpnsRecord(other, `/ipfs/${CONTENT}`, 1),
    expired: await signIpnsRecord(key, `/ipfs/${CONTENT}`, 1, { lifetimeMs: -60_000 }),
    garbage: Buffer.from('\x00\xff'.repeat(150), 'latin1'),
    flipped: Buffer.from(good.map((b, i) => i === good.length - 10 ? b ^ 0xff : b)),
    huge: new Uint8Array(1024 * 1024),
    html: Buffer.from('<script>alert(1)</script>')
  }
  const probe = catalogProbe(join(main.dir, 'data', 'catalog.sqlite'))
  const records = async (): Promise<string[]> => {
    const names: string[] = []
    for await (const record of main.server.ipns.entries()) names.push(record.name)
    return names
  }
  const files = serverSnapshot(join(main.dir, 'data'), probe)
  t.context = {
    main,
    probe,
    bodies,
    target: {
      url: main.server.url,
      tokens: {},
      snapshot: async () => ({ files: await files(), ipns: await records() }),
      secrets: [main.dir],
      vars: { name, peerId: peerIdFromPrivateKey(key).toString() }
    }
  }
})

test.after.always(async t => {
  t.context.probe?.close()
  await t.context.main?.stop()
})

const put = (name: string, body: string, status: number, error: string, type = IPNS_RECORD_CONTENT_TYPE): HttpCase & { record: string } => ({
  name,
  method: 'PUT',
  path: '/routing/v1/ipns/{name}',
  as: 'none',
  headers: { 'Content-Type': type },
  record: body,
  status,
  error
})

// bodies are bytes made in `before`: the cases name them, the test fills them in
const puts = [
  put('an IPNS record signed by another key', 'otherKey', 400, 'InvalidIpnsRecordError'),
  put('an expired IPNS record', 'expired', 400, 'IpnsRecordExpiredError'),
  put('an IPNS record of garbage', 'garbage', 400, 'InvalidIpnsRecordError'),
  put('an IPNS record with a flipped byte', 'flipped', 400, 'InvalidIpnsRecordError'),
  put('an IPNS record of 1 MiB', 'huge', 413, 'IpnsRecordTooLargeError'),
  put('an IPNS record of HTML', 'html', 400, 'InvalidIpnsRecordError'),
  put('an IPNS record as JSON', 'good', 415, 'UnsupportedMediaTypeError', 'application/json'),
  put('a good record for a name that is no registered node', 'good', 403, 'IpnsNameNotAllowedError')
]
for (const c of puts) {
  test.serial(`${c.name} is answered ${c.status}`, async t => {
    await runCase(t, t.context.target, { ...c, body: t.context.bodies[c.record] })
  })
}

hostileTests(test, [
  { name: 'a PUT to a name that is no name', method: 'PUT', path: '/routing/v1/ipns/..%2f..%2fetc', as: 'none', headers: { 'Content-Type': IPNS_RECORD_CONTENT_TYPE }, body: 'x', status: 400, error: 'InvalidIpnsNameError' },
  { name: 'a GET of a name that is no name', path: '/routing/v1/ipns/not-a-name', as: 'none', headers: { Accept: IPNS_RECORD_CONTENT_TYPE }, status: 400, error: 'InvalidIpnsNameError' },
  { name: 'a GET of a name of 3,000 characters', path: `/routing/v1/ipns/k51${'q'.repeat(3000)}`, as: 'none', headers: { Accept: IPNS_RECORD_CONTENT_TYPE }, status: 400, error: 'InvalidIpnsNameError' },
  { name: 'a GET of a name no record has', path: '/routing/v1/ipns/{name}', as: 'none', headers: { Accept: IPNS_RECORD_CONTENT_TYPE }, status: 404, error: 'IpnsRecordNotFoundError' },
  { name: 'providers of a CID that is no CID', path: '/routing/v1/providers/%3Cscript%3E', as: 'none', status: 400, error: 'InvalidCIDError' },
  { name: 'providers of an identity CID', path: '/routing/v1/providers/bafkqaaa', as: 'none', status: 400, error: 'InvalidCIDError' },
  { name: 'providers of a CID nobody holds', path: `/routing/v1/providers/${CONTENT}`, as: 'none', status: 404, error: 'RoutingRecordNotFoundError' },
  { name: 'peers of a peer ID that is none', path: '/routing/v1/peers/12D3KooW%00', as: 'none', status: 400, error: 'InvalidRequestError' },
  { name: 'peers of a CID that is no peer', path: `/routing/v1/peers/${CONTENT}`, as: 'none', status: 400, error: 'InvalidRequestError' },
  { name: 'a PUT of providers', method: 'PUT', path: '/routing/v1/providers', as: 'none', body: '{"Providers":[{"ID":"x"}]}', status: 400, error: 'InvalidRequestError' },
  { name: 'a DELETE of a record', method: 'DELETE', path: '/routing/v1/ipns/{name}', as: 'none', status: 400, error: 'InvalidRequestError' },
  { name: 'an unknown routing path with dot-dot', path: '/routing/v1/..%2f..%2fapi%2fv1%2fusers', as: 'none', status: 400, error: 'InvalidRequestError' }
], c => c.target)
