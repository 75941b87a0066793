import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { decodeJoinToken } from '../core/access/index.ts'
import { parseSwarmKey, SWARM_KEY_ENCODING, SWARM_KEY_FILE, SWARM_KEY_HEADER, writeSwarmKey } from '../core/config/index.ts'
import { DataFolderTakenError } from '../core/errors.ts'
import { IDENTITY_FILE, loadOrCreateIdentity } from '../core/net/index.ts'
import { createApiClient } from '../client/api-client.ts'
import type { JoinGrant } from '../core/access/index.ts'
import type { Logger } from '../core/logger.ts'

/*
 * `cidcast-node join TOKEN` (issue 14, item 2): everything a node needs from one line. The token is read before
 * anything is written (a bad one leaves no folder behind), the data folder gets the node's identity, the main server
 * spends the invitation for that identity and answers the name, mode and owner the admin chose, and only then is the
 * swarm key written; the caller then starts the node with them, which registers it and keeps them in node.json. A folder
 * of another private network is refused; joining again with the same token and folder is harmless (the server
 * lets the node that spent an invitation show it again).
 */

/** What the node starts with after joining. */
export interface Joined extends JoinGrant {
  /** The main server's HTTP URL. */
  server: string
  peerId: string
}

/** Spends the invitation of `token` for the node of the data folder `data` and writes the network's swarm key there. */
export async function joinNetwork (token: string, data: string, logger: Logger): Promise<Joined> {
  const joining = decodeJoinToken(token)
  const keyText = `${SWARM_KEY_HEADER}\n${SWARM_KEY_ENCODING}\n${joining.swarmKey}\n`
  await mkdir(data, { recursive: true, mode: 0o700 })
  const keyPath = join(data, SWARM_KEY_FILE)
  const existing = await readFile(keyPath, 'utf8').catch(err => { if (err.code === 'ENOENT') return undefined; throw err })
  if (existing != null && Buffer.from(parseSwarmKey(existing)).toString('hex') !== joining.swarmKey) {
    throw new DataFolderTakenError(`${data} belongs to another private network (its swarm.key differs): join with an empty folder (--data)`)
  }
  const key = await loadOrCreateIdentity(join(data, IDENTITY_FILE), logger)
  const peerId = peerIdFromPrivateKey(key).toString()
  const grant = await createApiClient(joining.url, { token: '', timeoutMs: 30_000 }).request<JoinGrant>('POST', '/api/v1/nodes/join', { id: joining.id, secret: joining.secret, peerId })
  // only now: a refused join leaves no key behind that a later, good token would find in the way
  if (existing == null) await writeSwarmKey(keyPath, keyText)
  return { server: joining.url, peerId, name: grant.name, mode: grant.mode, owner: grant.owner }
}
