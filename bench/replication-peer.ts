import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { unixfs } from '@helia/unixfs'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { IMPORT_OPTIONS } from '../core/ipfs/import-profile.ts'
import { silentLogger } from '../core/logger.ts'
import { createPeer } from '../core/net/peer.ts'
import { readSwarmKey } from '../core/net/swarm-key.ts'
import { announceReady } from './child.ts'
import type { BitswapBlockBrokerInit } from '@helia/bitswap'

/**
 * The holding side of the replication bench, in a process of its own (so it does not share an event loop with the
 * side that fetches): `node --import=tsx bench/replication-peer.ts <dataDir> <swarmKeyFile> <mib> <chunkBytes>
 * <bitswapJson> <file>`. A Helia peer exactly as a CDN node builds it (`createPeer`: blockstore-fs, PSK, noise,
 * yamux, bitswap), holding `mib` MiB of random bytes as one UnixFS file cut in `chunkBytes` leaves; the same bytes
 * are written to `file` for nginx. Announces `{ peerId, addrs, root }`; SIGTERM stops it.
 */

const [dataDir, swarmKeyFile, mib, chunkBytes, bitswapJson, file] = process.argv.slice(2)
if (file == null) throw new Error('usage: replication-peer.ts <dataDir> <swarmKeyFile> <mib> <chunkBytes> <bitswapJson> <file>')
const bitswap = JSON.parse(bitswapJson) as BitswapBlockBrokerInit
const peer = await createPeer({ logger: silentLogger() }, { dataDir, swarmKey: await readSwarmKey(swarmKeyFile), bitswap })
const bytes = randomBytes(Number(mib) * 1024 * 1024)
await writeFile(file, bytes)
const chunk = Number(chunkBytes)
const root = await unixfs(peer).addBytes(bytes, { ...IMPORT_OPTIONS, chunker: fixedSize({ chunkSize: chunk }) })
process.on('SIGTERM', () => { void peer.stop().finally(() => { process.exit(0) }) })
announceReady({ peerId: peer.libp2p.peerId.toString(), addrs: peer.libp2p.getMultiaddrs().map(String), root: root.toString() })
