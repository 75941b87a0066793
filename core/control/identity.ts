import { base36 } from 'multiformats/bases/base36'
import type { PeerId } from '@libp2p/interface'

/** A peer's IPNS name (`k51...`): its peer ID as a CIDv1 with the libp2p-key codec, in base36. */
export function ipnsNameOf (peerId: PeerId): string {
  return peerId.toCID().toString(base36)
}
