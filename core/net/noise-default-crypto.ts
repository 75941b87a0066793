/*
 * Stands in for `@chainsafe/libp2p-noise`'s own crypto module in the bundle only (bin/build-dist.js): that module
 * compiles two AssemblyScript WebAssembly modules as it loads (~9 MB of an idle node's memory) for a default that
 * cidcast's peers never use, since they pass `nativeNoiseCrypto` (core/net/peer.ts). noise imports `defaultCrypto`
 * from it and nothing else.
 */

export { nativeNoiseCrypto as defaultCrypto } from './noise-crypto.ts'
