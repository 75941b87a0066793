import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, createSecretKey, diffieHellman, generateKeyPairSync, hkdfSync, timingSafeEqual } from 'node:crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import type { KeyObject } from 'node:crypto'

/**
 * Noise's crypto on node:crypto alone, built for throughput. `@chainsafe/libp2p-noise`'s default already uses
 * node:crypto above 1200 bytes, but imports the raw 32-byte key into a new KeyObject for every 64 KiB message (a
 * tenth of a protected connection's time, profiled), copies ciphertext and tag into one buffer, and runs small
 * messages through AssemblyScript. Here the key object is made once per cipher state key and the tag is appended to
 * a list instead of copied; X25519, SHA-256 and HKDF are node:crypto's. The unit test checks it against the default
 * and the pure-JS crypto on the same inputs.
 */

const ALGORITHM = 'chacha20-poly1305'
const TAG_BYTES = 16
const KEY_BYTES = 32
const HKDF_BYTES = 96
/** DER prefixes that make a raw X25519 key a PKCS#8 private key or an SPKI public key (RFC 8410) for node:crypto. */
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex')
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex')

/** The key object of the last key seen per key array, checked byte for byte before use (noise could reuse an array). */
const keys = new WeakMap<Uint8Array, { bytes: Buffer, key: KeyObject }>()

function keyObject (k: Uint8Array): KeyObject {
  const cached = keys.get(k)
  if (cached != null && k.byteLength === KEY_BYTES && timingSafeEqual(cached.bytes, k)) return cached.key
  const bytes = Buffer.from(k)
  const entry = { bytes, key: createSecretKey(bytes) }
  keys.set(k, entry)
  return entry.key
}

type Encrypt = ICryptoInterface['chaCha20Poly1305Encrypt']
type Decrypt = ICryptoInterface['chaCha20Poly1305Decrypt']

/**
 * noise types its lists with its own copy of uint8arraylist (2.x); ours (3.x) is the same class at run time (both
 * recognise a list by the same registered symbol), so the list built here is given noise's type.
 */
function asNoiseList (list: Uint8ArrayList): ReturnType<Encrypt> {
  return list as unknown as ReturnType<Encrypt>
}

const encrypt: Encrypt = (plaintext, nonce, ad, k) => {
  const cipher = createCipheriv(ALGORITHM, keyObject(k), nonce, { authTagLength: TAG_BYTES })
  cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
  const output = new Uint8ArrayList()
  if (plaintext instanceof Uint8Array) {
    output.append(cipher.update(plaintext))
  } else {
    for (const buf of plaintext) output.append(cipher.update(buf))
  }
  // chacha20-poly1305 is a stream cipher: final() gives no bytes, only completes the tag
  cipher.final()
  output.append(cipher.getAuthTag())
  return asNoiseList(output)
}

const decrypt: Decrypt = (ciphertext, nonce, ad, k) => {
  const length = ciphertext.byteLength - TAG_BYTES
  if (length < 0) throw new Error('Invalid chacha20poly1305 decryption: shorter than its tag')
  const decipher = createDecipheriv(ALGORITHM, keyObject(k), nonce, { authTagLength: TAG_BYTES })
  decipher.setAAD(ad, { plaintextLength: length })
  decipher.setAuthTag(ciphertext.subarray(length))
  if (ciphertext instanceof Uint8Array) {
    const plaintext = decipher.update(ciphertext.subarray(0, length))
    // throws when the tag does not match: nothing decrypted is returned then
    decipher.final()
    return plaintext
  }
  const output = new Uint8ArrayList()
  for (const buf of ciphertext.sublist(0, length)) output.append(decipher.update(buf))
  decipher.final()
  return asNoiseList(output)
}

function hkdf (ck: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  // Noise's HKDF(ck, ikm, 3): extract with ck as the salt, expand with no info; RFC 5869 is exactly that
  const okm = new Uint8Array(hkdfSync('sha256', ikm, ck, new Uint8Array(0), HKDF_BYTES))
  return [okm.subarray(0, 32), okm.subarray(32, 64), okm.subarray(64, 96)]
}

type Bytes = Parameters<ICryptoInterface['hashSHA256']>[0]

function flat (data: Bytes): Uint8Array {
  return data instanceof Uint8Array ? data : data.subarray()
}

function sha256 (data: Bytes): Uint8Array {
  const hash = createHash('sha256')
  if (data instanceof Uint8Array) return hash.update(data).digest()
  for (const buf of data) hash.update(buf)
  return hash.digest()
}

function x25519FromSeed (seed: Uint8Array): { publicKey: Uint8Array, privateKey: Uint8Array } {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, seed]), format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  return { publicKey: spki.subarray(SPKI_X25519.length), privateKey: seed }
}

function x25519Pair (): { publicKey: Uint8Array, privateKey: Uint8Array } {
  const { privateKey } = generateKeyPairSync('x25519', { privateKeyEncoding: { format: 'der', type: 'pkcs8' }, publicKeyEncoding: { format: 'der', type: 'spki' } })
  return x25519FromSeed(privateKey.subarray(PKCS8_X25519.length))
}

function x25519Shared (privateKey: Bytes, publicKey: Bytes): Uint8Array {
  return diffieHellman({
    privateKey: createPrivateKey({ key: Buffer.concat([PKCS8_X25519, flat(privateKey)]), format: 'der', type: 'pkcs8' }),
    publicKey: createPublicKey({ key: Buffer.concat([SPKI_X25519, flat(publicKey)]), format: 'der', type: 'spki' })
  })
}

/** The `crypto` option for `noise()`: everything on node:crypto, the ChaCha20-Poly1305 key imported once. */
export const nativeNoiseCrypto: ICryptoInterface = {
  hashSHA256: sha256,
  getHKDF: hkdf,
  generateX25519KeyPair: x25519Pair,
  generateX25519KeyPairFromSeed: x25519FromSeed,
  generateX25519SharedKey: x25519Shared,
  chaCha20Poly1305Encrypt: encrypt,
  chaCha20Poly1305Decrypt: decrypt
}
