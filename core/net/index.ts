/*
 * core/net: the private network's machinery, loaded only by the daemons (and the tests and bench that build peers):
 * the Helia peer factory (libp2p over TCP, PSK v1, noise, yamux, bitswap; blocks under the verified blockstore), the PSK protector and its XSalsa20
 * stream (a WebAssembly SIMD Salsa20 core), noise's crypto on node:crypto, and the one-daemon-per-data-folder lock. What a light program needs stays out of it: the swarm.key file
 * format is core/config's (`cidcast init` writes it), listen addresses are core/listen.ts. Other folders import
 * this file only.
 */

export { lockDataFolder, LOCK_FILE } from './data-lock.ts'
export { createPeer, DEFAULT_LISTEN, IDENTITY_FILE, loadOrCreateIdentity, QUARANTINE_DIR, verifiedBlocksOf } from './peer.ts'
export type { Peer, PeerComponents, PeerInit, PeerServices } from './peer.ts'
export { nativeNoiseCrypto } from './noise-crypto.ts'
export { assertPrivateNetworkAllowed, FORCE_PNET_ENV, preSharedKey, PrivateNetworkRequiredError } from './protector.ts'
export type { PreSharedKeyInit } from './protector.ts'
