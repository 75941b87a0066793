import { Counter, Gauge } from 'prom-client'
import type { BlockRepairer, RepairStats } from './block-repair.ts'
import type { ScrubStatus, Scrubber } from './scrub.ts'
import type { VerifiedBlockstore } from './verified-blockstore.ts'
import type { Registry } from 'prom-client'

/*
 * The integrity of stored blocks at `/metrics` and in `/healthz`, on both sides: blocks hashed on their first read,
 * damaged copies found, repairs, and the scrub's progress. Read from the parts' own counts at every scrape.
 */

export interface IntegritySources {
  store: Pick<VerifiedBlockstore, 'stats'>
  repairer?: Pick<BlockRepairer, 'stats'>
  scrub?: Pick<Scrubber, 'status'>
}

/** A counter whose value is read from `value()` at every scrape. */
function counterOf (registry: Registry, name: string, help: string, value: () => number): void {
  // eslint-disable-next-line no-new -- a prom-client metric registers itself with `registers`
  new Counter({
    name,
    help,
    registers: [registry],
    collect () {
      this.reset()
      this.inc(value())
    }
  })
}

/** Registers the `cidcast_blocks_*` and `cidcast_scrub_*` metrics. */
export function registerIntegrityMetrics (registry: Registry, sources: IntegritySources): void {
  const { store, repairer, scrub } = sources
  counterOf(registry, 'cidcast_blocks_hashed_total', 'blocks read from disk and hashed against their CID (first reads and scrub)', () => store.stats().hashedBlocks)
  counterOf(registry, 'cidcast_block_bytes_hashed_total', 'bytes of blocks hashed against their CID', () => store.stats().hashedBytes)
  counterOf(registry, 'cidcast_blocks_damaged_total', 'blocks on disk found not matching their CID (removed, never served)', () => store.stats().damagedBlocks)
  if (repairer != null) {
    counterOf(registry, 'cidcast_blocks_repaired_total', 'lost blocks fetched again from the peers', () => repairer.stats().repaired)
    counterOf(registry, 'cidcast_block_repairs_failed_total', 'repairs that found no good copy in time', () => repairer.stats().failed)
  }
  if (scrub == null) return
  counterOf(registry, 'cidcast_scrub_passes_total', 'scrub passes finished', () => scrub.status().passes)
  counterOf(registry, 'cidcast_scrub_blocks_total', 'blocks the scrub read and hashed', () => scrub.status().totals.blocks)
  counterOf(registry, 'cidcast_scrub_bytes_total', 'bytes the scrub read and hashed', () => scrub.status().totals.bytes)
  counterOf(registry, 'cidcast_scrub_broken_blocks_total', 'blocks the scrub found missing or damaged', () => scrub.status().totals.broken)
  // eslint-disable-next-line no-new -- as above
  new Gauge({
    name: 'cidcast_scrub_running',
    help: '1 while a scrub pass runs',
    registers: [registry],
    collect () { this.set(scrub.status().state === 'running' ? 1 : 0) }
  })
}

/** What `/healthz` says about stored blocks. */
export interface IntegrityStatus {
  /** Blocks hashed on their first read from disk (and by the scrub), damaged copies found since start. */
  hashedBlocks: number
  damagedBlocks: number
  repairs?: RepairStats
  scrub?: ScrubStatus
}

/** The integrity part of `/healthz`. */
export function integrityStatus (sources: IntegritySources): IntegrityStatus {
  const { hashedBlocks, damagedBlocks } = sources.store.stats()
  return { hashedBlocks, damagedBlocks, repairs: sources.repairer?.stats(), scrub: sources.scrub?.status() }
}
