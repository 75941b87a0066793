import { createHash } from 'node:crypto'

/** Deterministic pseudo-random bytes, so each run imports the same CIDs. */
export function bytesOf (length: number, seed: string): Buffer {
  const out = Buffer.alloc(length)
  let block = createHash('sha256').update(seed).digest()
  for (let offset = 0; offset < length; offset += block.length) {
    block.copy(out, offset)
    block = createHash('sha256').update(block).digest()
  }
  return out
}
