import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { MemoryBlockstore } from 'blockstore-core'
import { FsBlockstore } from 'blockstore-fs'
import { MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import { createHeliaLight } from 'helia'
import { SWARM_KEY_BYTES } from '../config/index.ts'
import { InvalidConfigError, InvalidSwarmKeyError } from '../errors.ts'
import { createVerifiedBlockstore, findVerifiedBlockstore } from '../ipfs/index.ts'
import { hostAndPort, listenOnFirstFree, probeTcpPort, withPort } from '../listen.ts'
import { nativeNoiseCrypto } from './noise-crypto.ts'
import { preSharedKey } from './protector.ts'
import type { VerifiedBlockstore } from '../ipfs/index.ts'
import type { Logger } from '../logger.ts'
import type { ListenSetting } from '../listen.ts'
import type { BitswapBlockBrokerInit } from '@helia/bitswap'
import type { HeliaWithLibp2p } from '@helia/libp2p'
import type { Identify } from '@libp2p/identify'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { Datastore } from 'interface-datastore'

/** Default listen address: loopback, any free port. */
export const DEFAULT_LISTEN = Object.freeze(['/ip4/127.0.0.1/tcp/0'])
/** File in the data folder holding the peer's Ed25519 key (libp2p protobuf), so its ID survives restarts. */
export const IDENTITY_FILE = 'identity.key'
/** Folder in the data folder where block files found damaged are moved, for inspection. */
export const QUARANTINE_DIR = 'quarantine'
/** Starts tried when libp2p fails to listen on addresses the probe found free (another program was quicker). */
const LISTEN_ATTEMPTS = 3

export interface PeerInit {
  /** Folder for `blocks/` (blockstore-fs), `datastore/` (LevelDB) and the identity key; in memory when absent. */
  dataDir?: string
  /** The 32-byte private network key (see `parseSwarmKey`). */
  swarmKey: Uint8Array
  /**
   * TCP multiaddrs to listen on. A string is used as it is (a taken port fails with `PortInUseError` naming
   * `p2pListen`); a `ListenSetting` names what set it, or, without `setBy`, is a default that moves to a free port
   * when taken. @default ['/ip4/127.0.0.1/tcp/0']
   */
  listen?: Array<string | ListenSetting>
  /** Told the addresses listened on, once started (a default that moved shows its new port here). */
  onListen?: (addresses: string[]) => void
  /** Addresses other peers are told to dial instead of the listen ones (a port forward or proxy in front of it). */
  announce?: string[]
  /** The peer's key; by default loaded from (or created once in) `<dataDir>/identity.key`, or fresh in memory. */
  privateKey?: PrivateKey
  /** Decides which peers may connect (used to revoke peer IDs, which a swarm key alone cannot do). */
  connectionGater?: ConnectionGater
  /** Bitswap settings (message sizes, send concurrency...); bench/replication.ts measures them. @default Helia's */
  bitswap?: BitswapBlockBrokerInit
  /** Hash every block on its first read from disk (core/ipfs/verified-blockstore.ts). Off only for the bench's baseline. @default true */
  verifyBlocks?: boolean
}

export interface PeerComponents {
  logger: Logger
}

export interface PeerServices extends Record<string, unknown> {
  identify: Identify
}

/** A started Helia node in the private network: `libp2p`, `blockstore`, `pins`; `stop()` also closes the stores. */
export type Peer = HeliaWithLibp2p<PeerServices>

/**
 * Builds and starts a Helia node for the private network: TCP, the PSK protector, noise, yamux, identify and
 * bitswap, and nothing that reaches the public network (no DHT, autonat, relay, UPnP or mDNS). Listen addresses are
 * probed first, so a taken one is named in a `PortInUseError` (a default moves instead) rather than in libp2p's words.
 */
export async function createPeer (components: PeerComponents, init: PeerInit): Promise<Peer> {
  const log = components.logger.child({ name: 'cidcast:peer' })
  if (init.swarmKey?.length !== SWARM_KEY_BYTES) {
    throw new InvalidSwarmKeyError(`the swarm key must be ${SWARM_KEY_BYTES} bytes, got ${init.swarmKey?.length ?? 0}`)
  }
  const settings = (init.listen ?? DEFAULT_LISTEN).map(a => typeof a === 'string' ? { key: 'p2pListen', address: a, setBy: 'p2pListen' } : a)
  let listen = await chooseAddresses(settings, log)
  for (let attempt = 1; ; attempt++) {
    try {
      const peer = await startPeer(components, init, listen, log)
      init.onListen?.(listen)
      return peer
    } catch (err) {
      if ((err as Error | undefined)?.name !== 'UnsupportedListenAddressesError') throw err
      // a port the probe found free was taken before libp2p listened on it, or an address cannot be listened on at
      // all: probe again, which names a taken port the user set, or moves a default once more
      const again = await chooseAddresses(settings, log)
      if (again.join() === listen.join() || attempt >= LISTEN_ATTEMPTS) {
        const by = [...new Set(settings.map(s => s.setBy ?? `the default ${s.key}`))].join(', ')
        throw new InvalidConfigError(`could not listen on ${listen.join(', ')} (${by}); check that each is a TCP address of this machine`)
      }
      listen = again
    }
  }
}

/** The address to listen on for each setting: a set one as it is once its port is free, a default on a free port. */
async function chooseAddresses (settings: ListenSetting[], log: Logger): Promise<string[]> {
  const chosen: string[] = []
  for (const setting of settings) {
    const { host } = hostAndPort(setting.address)
    const { port } = await listenOnFirstFree(setting, async port => await probeTcpPort(host, port), log)
    chosen.push(withPort(setting.address, port))
  }
  return chosen
}

async function startPeer (components: PeerComponents, init: PeerInit, listen: string[], log: Logger): Promise<Peer> {
  let store: Blockstore
  let datastore: Datastore
  let close = async (): Promise<void> => {}
  let privateKey = init.privateKey
  if (init.dataDir != null) {
    await mkdir(init.dataDir, { recursive: true })
    // before the stores open, so a bad identity file leaves nothing open behind it
    privateKey ??= await loadOrCreateIdentity(join(init.dataDir, IDENTITY_FILE), log)
    const fsBlockstore = new FsBlockstore(join(init.dataDir, 'blocks'))
    const levelDatastore = new LevelDatastore(join(init.dataDir, 'datastore'))
    // Helia checks the datastore version before it starts anything, so open the stores now
    await fsBlockstore.open()
    await levelDatastore.open()
    store = fsBlockstore
    datastore = levelDatastore
    close = async () => {
      await fsBlockstore.close()
      await levelDatastore.close()
    }
  } else {
    store = new MemoryBlockstore()
    datastore = new MemoryDatastore()
    privateKey ??= await generateKeyPair('Ed25519')
  }
  // every block read from the store is checked against its CID: by Helia's reads (bitswap answering peers
  // included) and by the block readers that find it under Helia's layers
  const quarantineDir = init.dataDir == null ? undefined : join(init.dataDir, QUARANTINE_DIR)
  const blockstore = createVerifiedBlockstore({ store, logger: components.logger }, { verify: init.verifyBlocks, quarantineDir })

  const helia = withBitswap(withLibp2pLight(createHeliaLight({ blockstore, datastore }), {
    privateKey,
    // libp2p's peer store (addresses and protocols of peers, written on every new stream) lives in memory: nothing
    // here dials a peer it learnt from an earlier run, and on disk a full data folder made every new stream fail
    // (a node could no longer heartbeat to say it was full, nor take the order that follows once space is freed)
    datastore: new MemoryDatastore(),
    addresses: { listen, announce: init.announce ?? [] },
    transports: [tcp()],
    connectionProtector: preSharedKey({ psk: init.swarmKey }),
    // noise's default crypto made a key object per 64 KiB message (core/net/noise-crypto.ts)
    connectionEncrypters: [noise({ crypto: nativeNoiseCrypto })],
    streamMuxers: [yamux()],
    connectionGater: init.connectionGater,
    peerDiscovery: [],
    services: { identify: identify() }
  }), {
    // Helia drops a want for a block it sent the same peer in the last 5 s (and, once that entry has expired, the
    // first want after it too): a node re-pinning what it just unpinned waited 12-24 s for its re-wants. With no
    // window a want is always answered; a duplicate send costs bandwidth, never correctness (bench r3: no change).
    doNotResendBlockWindow: 0,
    ...init.bitswap
  })

  // The stores must close after everything that writes to them has stopped: libp2p (its peer store lives
  // in the datastore) and bitswap. Making them Startable would not do: libp2p stops every Startable
  // component it is given, the datastore among them, while its peer store is still saving.
  const stopHelia = helia.stop.bind(helia)
  helia.stop = async (...args) => {
    try {
      return await stopHelia(...args)
    } finally {
      await close()
    }
  }

  try {
    await helia.start()
  } catch (err) {
    await helia.stop().catch(() => {})
    throw err
  }
  log.info({ peerId: helia.libp2p.peerId.toString(), addrs: helia.libp2p.getMultiaddrs().map(String) }, 'peer started')
  return helia
}

/** The verified blockstore under a peer's Helia layers (every peer `createPeer` makes has one). */
export function verifiedBlocksOf (peer: Pick<Peer, 'blockstore'>): VerifiedBlockstore {
  const store = findVerifiedBlockstore(peer.blockstore)
  if (store == null) throw new Error('this peer has no verified blockstore: it was not made by createPeer')
  return store
}

/** Reads the peer key from `path`, or creates an Ed25519 key there (mode 0600) the first time. */
export async function loadOrCreateIdentity (path: string, log: Logger): Promise<PrivateKey> {
  const existing = await readIdentity(path)
  if (existing != null) return existing
  const key = await generateKeyPair('Ed25519')
  try {
    await writeFile(path, privateKeyToProtobuf(key), { flag: 'wx', mode: 0o600 })
  } catch (err: any) {
    // another process created it first: use theirs so both agree on one identity
    if (err?.code === 'EEXIST') {
      const raced = await readIdentity(path)
      if (raced != null) return raced
    }
    throw err
  }
  log.info({ path }, 'created a new peer identity')
  return key
}

async function readIdentity (path: string): Promise<PrivateKey | undefined> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err: any) {
    if (err?.code === 'ENOENT') return undefined
    throw err
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err: any) {
    throw new InvalidConfigError(`the peer identity key ${path} is not a libp2p private key (${String(err?.message)})`)
  }
}
