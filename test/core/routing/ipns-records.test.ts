import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import test from 'ava'
import { marshalIPNSRecord, unmarshalIPNSRecord } from 'ipns'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import {
  DEFAULT_RECORD_LIFETIME_MS, MAX_IPNS_RECORD_BYTES, ipnsNameOf, isBetterIpnsRecord, parseIpnsName, signIpnsRecord,
  validateIpnsRecord
} from '../../../core/routing/ipns-records.ts'
import type { IPNSRecordV1V2 } from 'ipns'

const VALUE = '/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

async function keyAndName (): Promise<{ key: Awaited<ReturnType<typeof generateKeyPair>>, name: string }> {
  const key = await generateKeyPair('Ed25519')
  return { key, name: ipnsNameOf(peerIdFromPrivateKey(key)) }
}

test('a signed record validates for its name and says what it was given', async t => {
  const { key, name } = await keyAndName()
  t.regex(name, /^k51/)
  const bytes = await signIpnsRecord(key, VALUE, 7n, { ttlMs: 300_000 })
  const record = await validateIpnsRecord(name, bytes)
  t.is(record.name, name)
  t.is(record.value, VALUE)
  t.is(record.sequence, 7n)
  t.is(record.ttlMs, 300_000)
  const lifetime = record.expires.getTime() - Date.now()
  t.true(lifetime > DEFAULT_RECORD_LIFETIME_MS - 60_000 && lifetime <= DEFAULT_RECORD_LIFETIME_MS, `${lifetime}`)
})

test('records carry both V1 and V2 signatures, and the V1 one verifies as Kubo checks it', async t => {
  const { key } = await keyAndName()
  const record = unmarshalIPNSRecord(await signIpnsRecord(key, VALUE, 1)) as IPNSRecordV1V2
  t.truthy(record.signatureV2)
  t.truthy(record.signatureV1)
  const encoder = new TextEncoder()
  // V1 signs value ++ validity ++ "EOL"
  const v1Data = Buffer.concat([encoder.encode(record.value), encoder.encode(record.validity), encoder.encode('EOL')])
  t.true(await key.publicKey.verify(v1Data, record.signatureV1))
})

test('a CID value is written as an /ipfs path', async t => {
  const { key, name } = await keyAndName()
  const cid = CID.parse(VALUE.slice('/ipfs/'.length))
  t.is((await validateIpnsRecord(name, await signIpnsRecord(key, cid, 1))).value, VALUE)
})

test('a name is accepted as k51, as a base32 CID and as a base58 peer ID, all with one canonical spelling', async t => {
  const { key, name } = await keyAndName()
  const peerId = peerIdFromPrivateKey(key)
  for (const spelling of [name, peerId.toCID().toString(), peerId.toString()]) {
    const parsed = parseIpnsName(spelling)
    t.is(parsed.name, name, spelling)
    t.true(parsed.peerId.equals(peerId))
  }
})

test('malformed names are refused with InvalidIpnsNameError', t => {
  for (const bad of ['', 'hello', 'k51notreally', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', 'Qm' + 'x'.repeat(44), 'k'.repeat(300), '../../etc/passwd']) {
    t.throws(() => parseIpnsName(bad), { name: 'InvalidIpnsNameError' }, bad)
  }
})

test('a tampered signature is refused', async t => {
  const { key, name } = await keyAndName()
  const record = unmarshalIPNSRecord(await signIpnsRecord(key, VALUE, 1))
  record.signatureV2 = Uint8Array.from(record.signatureV2, (byte, i) => i === 0 ? byte ^ 1 : byte)
  await t.throwsAsync(validateIpnsRecord(name, marshalIPNSRecord(record)), { name: 'InvalidIpnsRecordError' })
})

test('a value changed after signing is refused', async t => {
  const { key, name } = await keyAndName()
  const record = unmarshalIPNSRecord(await signIpnsRecord(key, VALUE, 1))
  record.value = '/ipfs/bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
  await t.throwsAsync(validateIpnsRecord(name, marshalIPNSRecord(record)), { name: 'InvalidIpnsRecordError' })
})

test('a record signed by another key is refused for the name', async t => {
  const { name } = await keyAndName()
  const other = await keyAndName()
  const bytes = await signIpnsRecord(other.key, VALUE, 1)
  await t.notThrowsAsync(validateIpnsRecord(other.name, bytes))
  await t.throwsAsync(validateIpnsRecord(name, bytes), { name: 'InvalidIpnsRecordError' })
})

test('an expired record is refused with IpnsRecordExpiredError', async t => {
  const { key, name } = await keyAndName()
  const bytes = await signIpnsRecord(key, VALUE, 1, { lifetimeMs: -1000 })
  await t.throwsAsync(validateIpnsRecord(name, bytes), { name: 'IpnsRecordExpiredError' })
})

test('garbage and empty bodies are refused', async t => {
  const { name } = await keyAndName()
  for (const bytes of [new Uint8Array(0), new TextEncoder().encode('{"value":"/ipfs/x"}'), crypto.getRandomValues(new Uint8Array(512))]) {
    await t.throwsAsync(validateIpnsRecord(name, bytes), { name: 'InvalidIpnsRecordError' })
  }
})

test('a record over 10 KiB is refused before it is parsed', async t => {
  const { name } = await keyAndName()
  await t.throwsAsync(validateIpnsRecord(name, new Uint8Array(MAX_IPNS_RECORD_BYTES + 1)), { name: 'IpnsRecordTooLargeError' })
})

test('the better record wins: higher sequence, then longer validity, and a tie keeps the current one', async t => {
  const { key, name } = await keyAndName()
  const view = async (seq: number, lifetimeMs: number): ReturnType<typeof validateIpnsRecord> =>
    await validateIpnsRecord(name, await signIpnsRecord(key, VALUE, seq, { lifetimeMs }))
  const seq1 = await view(1, 60_000)
  const seq2short = await view(2, 10_000)
  const seq2long = await view(2, 3_600_000)
  t.true(isBetterIpnsRecord(seq2short, seq1), 'a higher sequence wins even with shorter validity')
  t.false(isBetterIpnsRecord(seq1, seq2short), 'a lower sequence loses')
  t.true(isBetterIpnsRecord(seq2long, seq2short), 'equal sequence: longer validity wins')
  t.false(isBetterIpnsRecord(seq2short, seq2long))
  t.false(isBetterIpnsRecord(seq2long, seq2long), 'a tie keeps the current record')
})

test('the canonical name is the base36 CIDv1 of the peer ID', async t => {
  const { key, name } = await keyAndName()
  t.is(name, peerIdFromPrivateKey(key).toCID().toString(base36))
})
