import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { base36 } from 'multiformats/bases/base36'
import type { ZoneNode } from '../../../core/dns/index.ts'
import type { PeerId } from '@libp2p/interface'

/** A fresh peer and its IPNS name (`k51...`), as a node would have. */
export async function nodeIdentity (): Promise<{ peerId: PeerId, ipns: string }> {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  return { peerId, ipns: peerId.toCID().toString(base36) }
}

/** An online shared node on loopback; `overrides` change any field. */
export async function zoneNode (label: string, overrides: Partial<ZoneNode> = {}): Promise<ZoneNode> {
  const { ipns } = await nodeIdentity()
  return { label, ipns, mode: 'shared', state: 'online', url: 'http://127.0.0.1:9000', addresses: [], revoked: false, ...overrides }
}
