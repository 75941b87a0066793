import { parseIpnsName } from './ipns-records.ts'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** A peer as the Delegated Routing V1 API describes it (the `peer` schema). */
export interface RoutingPeer {
  /** Peer ID (`12D3Koo...` or a libp2p-key CID). */
  peerId: string
  /** Multiaddrs, without `/p2p/<id>` or with it. */
  addrs: string[]
  /** Retrieval protocols, for example `transport-bitswap`; unknown when empty. */
  protocols?: string[]
}

/** Who holds `cid` (the replication issue fills this from the content index). */
export type ProviderSource = (cid: CID, options: AbortOptions) => AsyncIterable<RoutingPeer>
/** Where `peerId` can be reached. */
export type PeerSource = (peerId: PeerId, options: AbortOptions) => AsyncIterable<RoutingPeer>

/** A source that knows nothing: every look-up ends empty (the routes answer 404). */
export async function * noRecords (): AsyncGenerator<RoutingPeer> {}

/** The fields of a registered node that peer routing needs (a subset of the node registry's NodeView). */
export interface RoutableNode {
  peerId: string
  addresses: string[]
  mode: 'shared' | 'local'
  revoked: boolean
}

/**
 * Peer routing over the node registry: a node's last known addresses, unless it is revoked or in `local` mode
 * (never listed to others). `self` answers for the main server's own peer.
 */
export function peersFromNodes (list: () => Promise<RoutableNode[]>, self?: () => RoutingPeer): PeerSource {
  return async function * (peerId) {
    const id = peerId.toString()
    const me = self?.()
    if (me != null && me.peerId === id) {
      yield me
      return
    }
    for (const node of await list()) {
      if (node.peerId !== id || node.revoked || node.mode !== 'shared') continue
      yield { peerId: node.peerId, addrs: node.addresses, protocols: ['transport-bitswap'] }
    }
  }
}

/**
 * An `acceptName` for the IPNS record store: only names of registered nodes that are not revoked, so the open
 * routing API cannot be used to park records for arbitrary keys.
 */
export function acceptNodeNames (list: () => Promise<Array<Pick<RoutableNode, 'peerId' | 'revoked'>>>): (name: string) => Promise<boolean> {
  return async name => {
    const peerId = parseIpnsName(name).peerId.toString()
    return (await list()).some(node => node.peerId === peerId && !node.revoked)
  }
}
