import { randomBytes } from 'node:crypto'
import { noise, pureJsCrypto } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import test from 'ava'
import { Uint8ArrayList } from 'uint8arraylist'
import { receiveHash, repeatedHash, sendRepeated, silentComponentLogger, tcpPair } from '../../../bench/protector.ts'
import { nativeNoiseCrypto } from '../../../core/net/noise-crypto.ts'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import type { MessageStream } from '@libp2p/interface'

type NoiseList = Parameters<ICryptoInterface['chaCha20Poly1305Encrypt']>[0]

function bytesOf (data: Uint8Array | { subarray: () => Uint8Array }): Buffer {
  return Buffer.from(data.subarray())
}

/** `bytes` cut into pieces of 1000, 7 and the rest, as a list (how noise hands over what yamux wrote). */
function listOf (bytes: Uint8Array): NoiseList {
  // the same class as noise's own copy at run time (see core/net/noise-crypto.ts)
  return new Uint8ArrayList(bytes.subarray(0, 1000), bytes.subarray(1000, 1007), bytes.subarray(1007)) as unknown as NoiseList
}

// lengths around the default's switch from AssemblyScript to node:crypto (1200) and noise's largest message
const LENGTHS = [0, 1, 64, 1199, 1200, 1201, 4096, 65_519]

test('ChaCha20-Poly1305 gives the default crypto\'s bytes for the same key, nonce and data, and reads them back', t => {
  for (const length of LENGTHS) {
    const k = new Uint8Array(randomBytes(32))
    const nonce = new Uint8Array(randomBytes(12))
    const ad = new Uint8Array(randomBytes(32))
    const plaintext = new Uint8Array(randomBytes(length))
    const expected = bytesOf(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k))
    t.true(bytesOf(nativeNoiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)).equals(expected), `${length} bytes`)
    if (length > 1007) {
      t.true(bytesOf(nativeNoiseCrypto.chaCha20Poly1305Encrypt(listOf(plaintext), nonce, ad, k)).equals(expected), `${length} bytes as a list`)
      t.true(bytesOf(nativeNoiseCrypto.chaCha20Poly1305Decrypt(listOf(expected), nonce, ad, k)).equals(plaintext), `${length} bytes read back from a list`)
    }
    t.true(bytesOf(nativeNoiseCrypto.chaCha20Poly1305Decrypt(expected, nonce, ad, k)).equals(plaintext), `${length} bytes read back`)
    t.true(bytesOf(defaultCrypto.chaCha20Poly1305Decrypt(bytesOf(nativeNoiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)), nonce, ad, k)).equals(plaintext))
  }
})

test('a changed tag, ciphertext, nonce or key is refused', t => {
  const k = new Uint8Array(randomBytes(32))
  const nonce = new Uint8Array(12)
  const ad = new Uint8Array(0)
  const sealed = bytesOf(nativeNoiseCrypto.chaCha20Poly1305Encrypt(new Uint8Array(randomBytes(5000)), nonce, ad, k))
  const flip = (at: number): Buffer => { const copy = Buffer.from(sealed); copy[at] ^= 1; return copy }
  t.throws(() => nativeNoiseCrypto.chaCha20Poly1305Decrypt(flip(sealed.length - 1), nonce, ad, k))
  t.throws(() => nativeNoiseCrypto.chaCha20Poly1305Decrypt(flip(10), nonce, ad, k))
  t.throws(() => nativeNoiseCrypto.chaCha20Poly1305Decrypt(sealed, new Uint8Array(12).fill(1), ad, k))
  t.throws(() => nativeNoiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, new Uint8Array(randomBytes(32))))
  t.throws(() => nativeNoiseCrypto.chaCha20Poly1305Decrypt(new Uint8Array(15), nonce, ad, k))
})

test('a key array rewritten in place is used with its new bytes (the key object cache checks them)', t => {
  const k = new Uint8Array(randomBytes(32))
  const nonce = new Uint8Array(12)
  const plaintext = new Uint8Array(randomBytes(3000))
  nativeNoiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, new Uint8Array(0), k)
  k.set(randomBytes(32))
  const expected = bytesOf(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, new Uint8Array(0), k))
  t.true(bytesOf(nativeNoiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, new Uint8Array(0), k)).equals(expected))
})

test('HKDF, SHA-256 and X25519 agree with the pure JavaScript crypto', t => {
  const ck = new Uint8Array(randomBytes(32))
  for (const ikm of [new Uint8Array(0), new Uint8Array(randomBytes(32))]) {
    const ours = nativeNoiseCrypto.getHKDF(ck, ikm).map(bytesOf)
    const theirs = pureJsCrypto.getHKDF(ck, ikm).map(bytesOf)
    t.deepEqual(ours, theirs)
  }
  const data = new Uint8Array(randomBytes(5000))
  const digest = bytesOf(pureJsCrypto.hashSHA256(data))
  t.true(bytesOf(nativeNoiseCrypto.hashSHA256(data)).equals(digest))
  t.true(bytesOf(nativeNoiseCrypto.hashSHA256(listOf(data))).equals(digest))
  // a seed gives the same public key; a generated pair is a seed and its public key
  const seed = new Uint8Array(randomBytes(32))
  t.true(bytesOf(nativeNoiseCrypto.generateX25519KeyPairFromSeed(seed).publicKey).equals(bytesOf(pureJsCrypto.generateX25519KeyPairFromSeed(seed).publicKey)))
  const a = nativeNoiseCrypto.generateX25519KeyPair()
  t.is(a.privateKey.byteLength, 32)
  t.true(bytesOf(a.publicKey).equals(bytesOf(pureJsCrypto.generateX25519KeyPairFromSeed(a.privateKey).publicKey)))
  const b = pureJsCrypto.generateX25519KeyPair()
  const shared = bytesOf(pureJsCrypto.generateX25519SharedKey(b.privateKey, a.publicKey))
  t.true(bytesOf(nativeNoiseCrypto.generateX25519SharedKey(a.privateKey, b.publicKey)).equals(shared))
  t.true(bytesOf(nativeNoiseCrypto.generateX25519SharedKey(listOf(a.privateKey), listOf(b.publicKey))).equals(shared))
})

test('a noise connection with this crypto talks to one with the default, both ways', async t => {
  const pair = await tcpPair()
  t.teardown(pair.close)
  const upgrader = { getStreamMuxers: () => new Map() }
  const make = async (crypto: ICryptoInterface) => noise({ crypto })({ privateKey: await generateKeyPair('Ed25519'), logger: silentComponentLogger(), upgrader } as unknown as Parameters<ReturnType<typeof noise>>[0])
  const ours = await make(nativeNoiseCrypto)
  const theirs = await make(defaultCrypto)
  const [dialer, listener] = await Promise.all([
    ours.secureOutbound(pair.dialer, { skipStreamMuxerNegotiation: true }),
    theirs.secureInbound(pair.listener, { skipStreamMuxerNegotiation: true })
  ])
  // chunks longer than one noise message (65,519 bytes) and not a multiple of it
  const chunk = randomBytes(200_003)
  const [, , atListener, atDialer] = await Promise.all([
    sendRepeated(dialer.connection as MessageStream, chunk, 20),
    sendRepeated(listener.connection as MessageStream, chunk, 20),
    receiveHash(listener.connection as MessageStream, chunk.length * 20),
    receiveHash(dialer.connection as MessageStream, chunk.length * 20)
  ])
  t.is(atListener, repeatedHash(chunk, 20))
  t.is(atDialer, repeatedHash(chunk, 20))
})
