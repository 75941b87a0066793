import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { limitConcurrency } from '../concurrency.ts'

/*
 * Password hashing with scrypt (memory-hard, in node:crypto), stored as a PHC string so the cost can rise later:
 * `$scrypt$ln=17,r=8,p=1$<salt>$<hash>` (unpadded base64). The default cost is OWASP's scrypt minimum
 * (N=2^17, r=8, p=1: 128 MiB and ~0.3 s per hash here); at most two hashes run at once so a burst of logins
 * cannot take the server's memory. A hash of another cost still verifies and reports `rehash` so the caller can
 * store one at today's cost.
 */

/** scrypt's cost: N = 2^ln, block size r, parallelism p. */
export interface ScryptCost {
  ln: number
  r: number
  p: number
}

export const DEFAULT_SCRYPT_COST: ScryptCost = Object.freeze({ ln: 17, r: 8, p: 1 })
const KEY_BYTES = 32
const SALT_BYTES = 16
const MAX_CONCURRENT = 2
const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})$/

/** Hashes at once: each holds 128 MiB and a core. */
const limited = limitConcurrency(MAX_CONCURRENT)

async function derive (password: string, salt: Buffer, cost: ScryptCost, bytes: number): Promise<Buffer> {
  const N = 2 ** cost.ln
  return await limited(async () => await new Promise<Buffer>((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, bytes, { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r }, (err, key) => {
      if (err != null) reject(err)
      else resolve(key)
    })
  }))
}

/** The PHC string of `password` with a fresh salt. */
export async function hashPassword (password: string, cost: ScryptCost = DEFAULT_SCRYPT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const key = await derive(password, salt, cost, KEY_BYTES)
  return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${salt.toString('base64').replace(/=+$/, '')}$${key.toString('base64').replace(/=+$/, '')}`
}

/** Whether `password` matches `stored`, and whether `stored` should be replaced by a hash at `cost`. */
export async function verifyPassword (password: string, stored: string, cost: ScryptCost = DEFAULT_SCRYPT_COST): Promise<{ ok: boolean, rehash: boolean }> {
  const m = PHC.exec(stored)
  if (m == null) return { ok: false, rehash: false }
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (ln < 10 || ln > 22 || r < 1 || p < 1) return { ok: false, rehash: false }
  const expected = Buffer.from(m[5], 'base64')
  const key = await derive(password, Buffer.from(m[4], 'base64'), { ln, r, p }, expected.length)
  const ok = key.length === expected.length && timingSafeEqual(key, expected)
  return { ok, rehash: ok && (ln !== cost.ln || r !== cost.r || p !== cost.p) }
}

/** A new random password: 20 characters from an alphabet without look-alikes (~116 bits). */
export function generatePassword (): string {
  const alphabet = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'
  const out: string[] = []
  while (out.length < 20) {
    for (const byte of randomBytes(32)) {
      // rejection sampling: no bias toward the first letters
      if (byte < 256 - (256 % alphabet.length) && out.length < 20) out.push(alphabet[byte % alphabet.length])
    }
  }
  return out.join('')
}
