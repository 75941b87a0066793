import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { multiaddrToUri } from '@multiformats/multiaddr-to-uri'
import { NoProviderReachableError } from './pin-errors.ts'
import type { PinProvider } from '../control/index.ts'
import type { Libp2p } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/**
 * Where the pinner's blocks come from. Bitswap asks every connected peer, so "using a provider" means being
 * connected to it: an order names providers with their multiaddrs (the main server learns them from registrations)
 * and the node dials them directly. When an order names none, the main server's Delegated Routing V1 API
 * (`GET /routing/v1/providers/{cid}`, filled from its content index) is asked, with a plain JSON request rather
 * than the stock routing client, which a node would otherwise load only for this. A provider's `/http` address (its
 * trustless gateway, `transport-ipfs-gateway-http`) becomes its `gateway`, which the pinner asks before bitswap.
 */

/** Most providers taken from one answer. */
const MAX_PROVIDERS = 16

/**
 * Dials the providers (not this node itself) at once; throws NoProviderReachableError only when no peer at all is
 * connected afterwards and there is no gateway to ask either (`options.gateways`).
 */
export async function connectProviders (libp2p: Pick<Libp2p, 'peerId' | 'dial' | 'getConnections'>, root: CID, providers: PinProvider[], options: { signal?: AbortSignal, timeoutMs: number, gateways?: number }): Promise<{ failures: string[] }> {
  const self = libp2p.peerId.toString()
  const failures: string[] = []
  const dialSignal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs), ...(options.signal != null ? [options.signal] : [])])
  await Promise.all(providers.filter(p => p.peerId !== self).map(async provider => {
    try {
      const peerId = peerIdFromString(provider.peerId)
      if (libp2p.getConnections(peerId).length > 0) return
      const addrs = provider.addrs.map(a => {
        const address = multiaddr(a)
        return address.getComponents().some(c => c.name === 'p2p') ? address : address.encapsulate(`/p2p/${provider.peerId}`)
      })
      if (addrs.length === 0) throw new Error('no address')
      await libp2p.dial(addrs, { signal: dialSignal })
    } catch (err) {
      failures.push(`${provider.peerId.slice(-8)}: ${(err as Error).message}`.slice(0, 160))
    }
  }))
  options.signal?.throwIfAborted()
  if (libp2p.getConnections().length === 0 && (options.gateways ?? 0) === 0) {
    throw new NoProviderReachableError(`no peer to fetch ${root.toString()} from: ${providers.length === 0 ? 'the order named no provider and no peer is connected' : `none of the ${providers.length} providers answered (${failures.join('; ')})`}`)
  }
  return { failures }
}

/** Words for error messages: the peers bitswap is asking now. */
export function describePeers (libp2p: Pick<Libp2p, 'getConnections'>): string {
  const peers = new Set(libp2p.getConnections().map(c => c.remotePeer.toString().slice(-8)))
  return peers.size === 0 ? 'no peer (none connected)' : `${peers.size} connected peer${peers.size === 1 ? '' : 's'} (…${[...peers].join(', …')})`
}

/** Returns a function that looks up providers at `routingUrl` (the main server's URL); [] on any failure. */
export function providerLookup (routingUrl: string, timeoutMs = 5000): (cid: CID, options: { signal: AbortSignal }) => Promise<PinProvider[]> {
  return async (cid, options) => {
    const url = new URL(`/routing/v1/providers/${cid.toString()}`, routingUrl)
    try {
      const res = await fetch(url, { headers: { Accept: 'application/json' }, signal: AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]) })
      if (!res.ok) {
        await res.body?.cancel()
        return []
      }
      const body = await res.json() as { Providers?: Array<{ ID?: unknown, Addrs?: unknown }> }
      const providers: PinProvider[] = []
      for (const p of body.Providers ?? []) {
        if (typeof p.ID !== 'string' || !Array.isArray(p.Addrs)) continue
        providers.push(providerOf(p.ID, p.Addrs.filter((a): a is string => typeof a === 'string')))
        if (providers.length >= MAX_PROVIDERS) break
      }
      return providers
    } catch {
      return []
    }
  }
}

/** A routing record's addresses split into libp2p ones and its gateway (the first http(s) one); bad ones are dropped. */
function providerOf (peerId: string, addresses: string[]): PinProvider {
  const provider: PinProvider = { peerId, addrs: [] }
  for (const text of addresses) {
    try {
      const address = multiaddr(text)
      if (address.getComponents().some(c => c.name === 'http')) {
        provider.gateway ??= multiaddrToUri(address)
      } else {
        provider.addrs.push(text)
      }
    } catch {}
  }
  return provider
}
