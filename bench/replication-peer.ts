import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { unixfs } from '@helia/unixfs'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { tuneGarbageCollection } from '../core/gc-tuning.ts'
import { IMPORT_OPTIONS } from '../core/ipfs/index.ts'
import { silentLogger } from '../core/logger.ts'
import { readSwarmKey } from '../core/config/index.ts'
import { createPeer } from '../core/net/index.ts'
import { startNode } from '../node/cdn-node.ts'
import { announceReady } from '../test/helpers/child.ts'
import { publicMediaFolder } from '../test/helpers/stream-url.ts'
import type { Peer } from '../core/net/index.ts'
import type { BitswapBlockBrokerInit } from '@helia/bitswap'

/**
 * The holding side of the replication bench, in a process of its own (so it does not share an event loop with the
 * side that fetches): `node --import=tsx bench/replication-peer.ts <dataDir> <swarmKeyFile> <mib> <chunkBytes>
 * <bitswapJson> <file> [peer|node]`. `peer`: a Helia peer exactly as a CDN node builds it (`createPeer`:
 * blockstore-fs, PSK, noise, yamux, bitswap with `bitswapJson`); `node`: a whole CDN node (that peer and its HTTP
 * gateway; no main server). It holds `mib` MiB of random bytes as one UnixFS file cut in `chunkBytes` leaves; the
 * same bytes are written to `file` for nginx. Announces `{ peerId, addrs, root, url? }`; SIGTERM stops it.
 */

const [dataDir, swarmKeyFile, mib, chunkBytes, bitswapJson, file, kind = 'peer'] = process.argv.slice(2)
if (file == null || (kind !== 'peer' && kind !== 'node')) throw new Error('usage: replication-peer.ts <dataDir> <swarmKeyFile> <mib> <chunkBytes> <bitswapJson> <file> [peer|node]')
const bitswap = JSON.parse(bitswapJson) as BitswapBlockBrokerInit
// as the daemons run (a bare peer too, so the bitswap sweep compares like with like)
tuneGarbageCollection()
let peer: Peer
let url: string | undefined
let stop: () => Promise<void>
if (kind === 'node') {
  // with no main server there are no keys to sign node credentials with: its gateway serves anyone, as a node of
  // a server with public media does (what the access check costs is a3 and a4)
  await publicMediaFolder(dataDir)
  // a server URL nobody answers at: the node keeps trying to register, harmlessly
  const node = await startNode({ dataDir, swarmKeyFile, server: 'http://127.0.0.1:9', listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], name: 'bench holder', logLevel: 'silent', minBackoffMs: 30_000, maxBackoffMs: 30_000 })
  peer = node.peer
  url = node.url
  stop = node.stop
} else {
  peer = await createPeer({ logger: silentLogger() }, { dataDir, swarmKey: await readSwarmKey(swarmKeyFile), bitswap })
  stop = async () => { await peer.stop() }
}
const bytes = randomBytes(Number(mib) * 1024 * 1024)
await writeFile(file, bytes)
const chunk = Number(chunkBytes)
const root = await unixfs(peer).addBytes(bytes, { ...IMPORT_OPTIONS, chunker: fixedSize({ chunkSize: chunk }) })
process.on('SIGTERM', () => { void stop().finally(() => { process.exit(0) }) })
announceReady({ peerId: peer.libp2p.peerId.toString(), addrs: peer.libp2p.getMultiaddrs().map(String), root: root.toString(), url })
