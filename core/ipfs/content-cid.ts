import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { InvalidCIDError } from '../errors.ts'
import type { CID } from 'multiformats/cid'

/*
 * Which CIDs name content that peers hold. An identity CID (multihash 0x00, e.g. `bafkqaaa`) carries its bytes
 * inside itself: every Helia blockstore answers `has` with true for it, so without this check it was accepted as
 * a pin "held by the main server", reported pinned at once and listed by /routing/v1/providers.
 */

/** Throws InvalidCIDError for an identity CID: nobody holds or provides what is inside the CID itself. */
export function assertHeldCid (cid: CID): void {
  if (cid.multihash.code === identity.code) {
    throw new InvalidCIDError(`${cid.toString().slice(0, 100)} is an identity CID: its bytes are inside the CID itself, so nobody holds or provides it`)
  }
}

/** Throws InvalidCIDError unless `cid` can be pinned: hashed with sha2-256, as the import profile makes every block. */
export function assertPinnableCid (cid: CID): void {
  assertHeldCid(cid)
  if (cid.multihash.code !== sha256.code) {
    throw new InvalidCIDError(`${cid.toString().slice(0, 100)} is hashed with multihash 0x${cid.multihash.code.toString(16)}; pins take sha2-256 CIDs, the hash of the import profile`)
  }
}
