import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { createNodeCredentialIssuer, createNodeCredentialVerifier, createStreamTokenSigner, createStreamTokenVerifier, openSigningKeyRing, SIGNING_KEYS_FILE } from '../core/access/index.ts'
import { nudgeNode } from '../core/control/index.ts'
import type { NodeCredentialVerifier, SigningKeyRing, SigningKeyStore, StoredSigningKey, StreamPublicKey, StreamTokenSigner, StreamTokenVerifier } from '../core/access/index.ts'
import type { StreamKeyRecord, StreamKeyRepository } from '../core/catalog/index.ts'
import type { StreamAccessGrant } from '../core/control/index.ts'
import type { Logger } from '../core/logger.ts'
import type { NodeRegistry } from '../core/replication/index.ts'
import type { Libp2p } from '@libp2p/interface'

/*
 * The main server's side of stream access, assembled: its signing keys (`<data>/stream-keys.json`), the signer and
 * the verifiers over them, what each node gets in its control replies, and key rotation, which nudges every online
 * node to heartbeat at once so the new key reaches it without waiting for its next beat.
 */

/** The main server's stream keys and what is made of them. */
export interface ServerStreamAccess {
  keys: SigningKeyRing
  signer: StreamTokenSigner
  verifier: StreamTokenVerifier
  nodeCredentials: NodeCredentialVerifier
  /** What a node gets in every register and heartbeat reply. */
  grant: (peerId: string) => StreamAccessGrant
}

/** What a rotation did. */
export interface RotatedKeys {
  /** The new current key. */
  key: StreamPublicKey
  /** Every key now accepted (the old ones with the time they stop). */
  keys: StreamPublicKey[]
  /** Online nodes asked to heartbeat at once. */
  nudged: number
}

/**
 * Opens the signing keys in `dataDir` (created on the first start), or the ones the main servers of one database
 * share (`shared`: the catalog's `stream_keys`, seeded from the file), and builds the signer and verifiers over them.
 */
export async function openServerStreamAccess (components: { logger: Logger }, init: { dataDir: string, publicMedia: boolean, shared?: StreamKeyRepository }): Promise<ServerStreamAccess> {
  const store = init.shared == null ? undefined : sharedKeyStore(init.shared)
  const keys = await openSigningKeyRing({ logger: components.logger }, { path: join(init.dataDir, SIGNING_KEYS_FILE), store })
  const issuer = createNodeCredentialIssuer({ keys })
  return {
    keys,
    signer: createStreamTokenSigner({ keys }),
    verifier: createStreamTokenVerifier({ keys }),
    nodeCredentials: createNodeCredentialVerifier({ keys }),
    grant: peerId => {
      const { credential, expiresAt } = issuer.issue(peerId)
      return { keys: keys.publicKeys(), publicMedia: init.publicMedia, credential: { token: credential, expiresAt: expiresAt.toISOString() } }
    }
  }
}

/** Rotates the signing key and asks every online node to heartbeat now (a nudge missed costs one heartbeat interval). */
export async function rotateStreamKeys (keys: SigningKeyRing, nodes: Pick<NodeRegistry, 'list'>, libp2p: Pick<Libp2p, 'dialProtocol'>, log: Logger): Promise<RotatedKeys> {
  const key = await keys.rotate()
  const online = (await nodes.list()).filter(node => node.state === 'online' && !node.revoked)
  for (const node of online) {
    void nudgeNode(libp2p, peerIdFromString(node.peerId)).then(ok => {
      if (!ok) log.debug({ node: node.label }, 'rotation nudge not acknowledged; the node gets the key with its next heartbeat')
    })
  }
  return { key, keys: keys.publicKeys(), nudged: online.length }
}

/** The catalog's shared keys as a key ring's store (times as the ring keeps them: ISO text). */
function sharedKeyStore (repository: StreamKeyRepository): SigningKeyStore {
  const toStored = (key: StreamKeyRecord): StoredSigningKey => {
    const stored: StoredSigningKey = { id: key.id, publicKey: key.publicKey, privateKey: key.privateKey, createdAt: new Date(key.createdAtMs).toISOString() }
    if (key.retiredAtMs != null) stored.retiredAt = new Date(key.retiredAtMs).toISOString()
    return stored
  }
  const toRecord = (key: StoredSigningKey): StreamKeyRecord => ({
    id: key.id,
    publicKey: key.publicKey,
    privateKey: key.privateKey,
    createdAtMs: Date.parse(key.createdAt),
    retiredAtMs: key.retiredAt == null ? null : Date.parse(key.retiredAt)
  })
  return {
    async read () {
      const keys = await repository.all()
      return keys.length === 0 ? undefined : keys.map(toStored)
    },
    async update (change) {
      let result: StoredSigningKey[] = []
      await repository.update(records => {
        const before = records.length === 0 ? undefined : records.map(toStored)
        result = change(before)
        return result === before ? records : result.map(toRecord)
      })
      return result
    }
  }
}
