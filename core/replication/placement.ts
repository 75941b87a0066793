import { UnderReplicatedError } from './errors.ts'

/*
 * Automatic placement (`--replicas MIN[:MAX]`), as IPFS Cluster's replication factor: nodes that already hold the
 * root (or are fetching it) count; more are chosen among online shared nodes, the freest first, until MAX hold it;
 * when even then fewer than MIN would, nothing is ordered and the refusal names every node left out and why.
 */

/** A node as placement sees it, with what it holds of the root being placed. */
export interface PlacementCandidate {
  peerId: string
  label: string
  state: 'online' | 'offline'
  mode: 'shared' | 'local'
  revoked: boolean
  freeBytes: number
  /** The node says its data folder is full. */
  full: boolean
  /** The index has this root on this node as pinned, or an order to pin it in flight. */
  holds: boolean
  /** Where the node says it is (`--region`), or null, and its tags: for a placement that spreads over regions. */
  region: string | null
  tags: string[]
}

export interface ReplicationFactor {
  min: number
  max: number
}

export interface Placement {
  /** Nodes that hold the root already (they count toward the factor). */
  holding: PlacementCandidate[]
  /** Nodes to order a pin from, freest first. */
  chosen: PlacementCandidate[]
}

/** Parses `MIN` or `MIN:MAX` (1 <= MIN <= MAX <= 64); throws RangeError with a message naming the value. */
export function parseReplicas (text: string): ReplicationFactor {
  const match = /^(\d{1,2})(?::(\d{1,2}))?$/.exec(text.trim())
  const min = match == null ? NaN : Number(match[1])
  const max = match?.[2] == null ? min : Number(match[2])
  if (!(min >= 1) || !(max >= min) || max > 64) throw new RangeError(`replicas must be MIN or MIN:MAX with 1 <= MIN <= MAX <= 64, got ${JSON.stringify(text.slice(0, 40))}`)
  return { min, max }
}

/** Chooses where `root` goes; throws UnderReplicatedError (with the reason) when MIN cannot be met. */
export function place (root: string, candidates: readonly PlacementCandidate[], factor: ReplicationFactor, bytesNeeded?: number): Placement {
  const holding = candidates.filter(c => c.holds && !c.revoked)
  const wanted = Math.max(0, factor.max - holding.length)
  const excluded: string[] = []
  const eligible: PlacementCandidate[] = []
  for (const c of candidates) {
    if (c.holds && !c.revoked) continue
    const why = exclusion(c, bytesNeeded)
    if (why == null) eligible.push(c)
    else excluded.push(`${c.label} ${why}`)
  }
  eligible.sort((a, b) => b.freeBytes - a.freeBytes || a.label.localeCompare(b.label))
  const chosen = eligible.slice(0, wanted)
  const total = holding.length + chosen.length
  if (total < factor.min) {
    const range = factor.min === factor.max ? `${factor.min}` : `${factor.min} to ${factor.max}`
    const have = `${holding.length} node${holding.length === 1 ? '' : 's'} hold${holding.length === 1 ? 's' : ''} it${holding.length > 0 ? ` (${holding.map(h => h.label).join(', ')})` : ''}`
    const more = `${eligible.length} more can take it${eligible.length > 0 ? ` (${eligible.map(e => e.label).join(', ')})` : ''}`
    const left = excluded.length > 0 ? `; ${excluded.join('; ')}` : (candidates.length === 0 ? '; no node is registered' : '')
    throw new UnderReplicatedError(`under-replicated: ${root} needs ${range} replicas, but ${have} and ${more}${left}`)
  }
  return { holding, chosen }
}

function exclusion (c: PlacementCandidate, bytesNeeded: number | undefined): string | undefined {
  if (c.revoked) return 'is revoked'
  if (c.mode !== 'shared') return 'is a local node (it serves only its owner)'
  if (c.state !== 'online') return 'is offline'
  if (c.full) return 'is full'
  if (bytesNeeded != null && c.freeBytes < bytesNeeded) return `has ${mib(c.freeBytes)} free, ${mib(bytesNeeded)} needed`
  return undefined
}

function mib (bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`
}
