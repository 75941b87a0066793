import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import test from 'ava'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { createLogger } from '../../../core/logger.ts'
import { ipnsNameOf, signIpnsRecord } from '../../../core/routing/ipns-records.ts'
import { createIpnsRecordStore, IPNS_STORE_PREFIX } from '../../../core/routing/ipns-store.ts'
import type { IpnsRecordView } from '../../../core/routing/index.ts'

const logger = createLogger({ level: 'silent' })
const value = (n: number): string => `/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52z${'abcdefghijklmnopqrstuvwxyz'[n % 26]}`

async function setup (acceptName?: (name: string) => boolean): Promise<{ store: ReturnType<typeof createIpnsRecordStore>, datastore: MemoryDatastore, key: Awaited<ReturnType<typeof generateKeyPair>>, name: string }> {
  const datastore = new MemoryDatastore()
  const store = createIpnsRecordStore({ datastore, logger }, { acceptName })
  const key = await generateKeyPair('Ed25519')
  return { store, datastore, key, name: ipnsNameOf(peerIdFromPrivateKey(key)) }
}

test('a kept record is read back under its canonical name and stored under /cidcast/ipns/<name>', async t => {
  const { store, datastore, key, name } = await setup()
  const bytes = await signIpnsRecord(key, value(1), 1)
  const { record, changed } = await store.put(peerIdFromPrivateKey(key).toString(), bytes)
  t.true(changed)
  t.is(record.name, name)
  t.deepEqual((await store.get(name))?.bytes, bytes)
  t.deepEqual(await datastore.get(new Key(`${IPNS_STORE_PREFIX}/${name}`)), bytes)
})

test('an unknown name reads as undefined and a malformed one throws', async t => {
  const { store, name } = await setup()
  t.is(await store.get(name), undefined)
  await t.throwsAsync(store.get('nope'), { name: 'InvalidIpnsNameError' })
})

test('putting the same bytes again changes nothing; a lower or equal sequence is refused as stale', async t => {
  const { store, key, name } = await setup()
  const seq5 = await signIpnsRecord(key, value(5), 5)
  await store.put(name, seq5)
  t.false((await store.put(name, seq5)).changed)
  await t.throwsAsync(store.put(name, await signIpnsRecord(key, value(4), 4)), { name: 'StaleIpnsRecordError' })
  // same sequence with a shorter validity (60 s against 48 h) loses too
  await t.throwsAsync(store.put(name, await signIpnsRecord(key, value(6), 5, { lifetimeMs: 60_000 })), { name: 'StaleIpnsRecordError' })
  t.is((await store.get(name))?.sequence, 5n)
})

test('a higher sequence replaces the kept record and tells listeners; equal sequence with longer validity does too', async t => {
  const { store, key, name } = await setup()
  const seen: IpnsRecordView[] = []
  const off = store.onUpdate(record => { seen.push(record) })
  await store.put(name, await signIpnsRecord(key, value(1), 1, { lifetimeMs: 60_000 }))
  await store.put(name, await signIpnsRecord(key, value(2), 2, { lifetimeMs: 60_000 }))
  await store.put(name, await signIpnsRecord(key, value(3), 2, { lifetimeMs: 3_600_000 }))
  off()
  await store.put(name, await signIpnsRecord(key, value(4), 3))
  t.deepEqual(seen.map(r => [r.sequence, r.value]), [[1n, value(1)], [2n, value(2)], [2n, value(3)]])
  t.is((await store.get(name))?.value, value(4))
})

test('invalid records never reach the datastore', async t => {
  const { store, datastore, key, name } = await setup()
  const other = await generateKeyPair('Ed25519')
  await t.throwsAsync(store.put(name, await signIpnsRecord(other, value(1), 9)), { name: 'InvalidIpnsRecordError' })
  await t.throwsAsync(store.put(name, await signIpnsRecord(key, value(1), 9, { lifetimeMs: -1 })), { name: 'IpnsRecordExpiredError' })
  await t.throwsAsync(store.put(name, new Uint8Array(20_000)), { name: 'IpnsRecordTooLargeError' })
  t.false(await datastore.has(new Key(`${IPNS_STORE_PREFIX}/${name}`)))
})

test('an expired kept record reads as absent and any valid record may replace it', async t => {
  const { store, datastore, key, name } = await setup()
  // written straight to the datastore: the store itself never accepts an expired record
  await datastore.put(new Key(`${IPNS_STORE_PREFIX}/${name}`), await signIpnsRecord(key, value(9), 9, { lifetimeMs: -1000 }))
  t.is(await store.get(name), undefined)
  t.true((await store.put(name, await signIpnsRecord(key, value(1), 1))).changed)
  t.is((await store.get(name))?.sequence, 1n)
})

test('names the policy refuses are not kept', async t => {
  const { store, key, name } = await setup(() => false)
  await t.throwsAsync(store.put(name, await signIpnsRecord(key, value(1), 1)), { name: 'IpnsNameNotAllowedError' })
  t.is(await store.get(name), undefined)
})

test('concurrent puts in any order keep the highest sequence', async t => {
  const { store, key, name } = await setup()
  const records = await Promise.all(Array.from({ length: 20 }, async (_, i) => await signIpnsRecord(key, value(i), i + 1)))
  const shuffled = records.map(bytes => ({ bytes, order: Math.random() })).sort((a, b) => a.order - b.order)
  const results = await Promise.allSettled(shuffled.map(async ({ bytes }) => await store.put(name, bytes)))
  t.true(results.every(r => r.status === 'fulfilled' || (r.reason as Error).name === 'StaleIpnsRecordError'))
  t.is((await store.get(name))?.sequence, 20n)
})

test('entries lists every unexpired record', async t => {
  const { store, datastore, key, name } = await setup()
  const other = await generateKeyPair('Ed25519')
  await store.put(name, await signIpnsRecord(key, value(1), 1))
  await store.put(ipnsNameOf(peerIdFromPrivateKey(other)), await signIpnsRecord(other, value(2), 1))
  const stale = await generateKeyPair('Ed25519')
  await datastore.put(new Key(`${IPNS_STORE_PREFIX}/${ipnsNameOf(peerIdFromPrivateKey(stale))}`), await signIpnsRecord(stale, value(3), 1, { lifetimeMs: -1 }))
  const names: string[] = []
  for await (const record of store.entries()) names.push(record.name)
  t.deepEqual(names.sort(), [name, ipnsNameOf(peerIdFromPrivateKey(other))].sort())
})
