import type { ConnectionGater, PeerId } from '@libp2p/interface'

/** A libp2p ConnectionGater that refuses revoked peer IDs in every direction, swarm key or not. */
export interface RevocationGater extends ConnectionGater {
  /** Refuses `peerId` (a peer ID string) from now on; connections already open must be closed by the caller. */
  revoke (peerId: string): void
  isRevoked (peerId: string): boolean
}

export interface RevocationGaterInit {
  /** Peer IDs refused from the start (loaded from the registry before the peer starts). */
  revoked?: Iterable<string>
}

/**
 * Builds the gater the main server's peer is created with. A PSK proves membership of the network, not who a
 * peer is: only the noise handshake does, so the decisive checks are on encrypted and upgraded connections.
 */
export function createRevocationGater (init: RevocationGaterInit = {}): RevocationGater {
  const revoked = new Set<string>(init.revoked ?? [])
  const denied = (peerId: PeerId): boolean => revoked.has(peerId.toString())
  return {
    revoke: peerId => { revoked.add(peerId) },
    isRevoked: peerId => revoked.has(peerId),
    denyDialPeer: denied,
    denyOutboundConnection: denied,
    denyInboundEncryptedConnection: denied,
    denyOutboundEncryptedConnection: denied,
    denyInboundUpgradedConnection: denied,
    denyOutboundUpgradedConnection: denied,
    denyInboundRelayedConnection: (relay, remotePeer) => denied(relay) || denied(remotePeer),
    denyOutboundRelayedConnection: (source, destination) => denied(source) || denied(destination),
    denyInboundRelayReservation: denied
  }
}
