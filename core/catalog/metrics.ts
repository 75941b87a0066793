import { Counter, Gauge } from 'prom-client'
import type { CatalogLockStats } from './busy.ts'
import type { Registry } from 'prom-client'

/**
 * The catalog's waits for a database locked by another process, read at every scrape:
 * `cidcast_catalog_calls_waiting`, `cidcast_catalog_lock_waits_total`, `cidcast_catalog_busy_total` (each a 503).
 */
export function registerCatalogMetrics (registry: Registry, catalog: { lockStats: () => CatalogLockStats }): void {
  // the catalog keeps the counts; a scrape copies them (a counter is set by resetting it and adding the total)
  const total = (counter: Counter, value: number): void => { counter.reset(); counter.inc(value) }
  // eslint-disable-next-line no-new -- a prom-client metric registers itself with `registers`
  new Gauge({
    name: 'cidcast_catalog_calls_waiting',
    help: 'catalog calls waiting now for its database, locked by another process',
    registers: [registry],
    collect () { this.set(catalog.lockStats().waiting) }
  })
  // eslint-disable-next-line no-new -- as above
  new Counter({
    name: 'cidcast_catalog_lock_waits_total',
    help: 'catalog calls that found its database locked by another process and waited',
    registers: [registry],
    collect () { total(this, catalog.lockStats().waited) }
  })
  // eslint-disable-next-line no-new -- as above
  new Counter({
    name: 'cidcast_catalog_busy_total',
    help: 'catalog calls that gave up on a database locked for longer than they wait (answered 503)',
    registers: [registry],
    collect () { total(this, catalog.lockStats().gaveUp) }
  })
}
