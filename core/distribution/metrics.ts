import { Gauge } from 'prom-client'
import type { Distributor } from './distributor.ts'
import type { Registry } from 'prom-client'

/*
 * `/metrics` of automatic distribution (issue 13, item 5): placements and evictions by rule, pre-cache orders, and
 * each node's hit ratio (the share of the bytes it reported serving that came from its own blocks). Read at scrape
 * time from the distributor's counts; the nodes' own `/metrics` count pre-cache hits and waste.
 */

/** Registers the distributor's figures. */
export function registerDistributionMetrics (registry: Registry, distributor: Pick<Distributor, 'counters'>, labelOf: (peerId: string) => string | undefined = () => undefined): void {
  /* eslint-disable no-new -- a prom-client metric registers itself with `registers` */
  new Gauge({
    name: 'cidcast_distribution_placements_total',
    help: 'automatic placements carried out since start, by rule',
    labelNames: ['rule'],
    registers: [registry],
    collect () { for (const [rule, n] of Object.entries(distributor.counters().placements)) this.set({ rule }, n) }
  })
  new Gauge({
    name: 'cidcast_distribution_evictions_total',
    help: 'automatic evictions carried out since start, by rule',
    labelNames: ['rule'],
    registers: [registry],
    collect () { for (const [rule, n] of Object.entries(distributor.counters().evictions)) this.set({ rule }, n) }
  })
  new Gauge({
    name: 'cidcast_distribution_precache_orders_total',
    help: 'pre-cache orders (the next title\'s start) given to nodes since start',
    registers: [registry],
    collect () { this.set(distributor.counters().precache) }
  })
  new Gauge({
    name: 'cidcast_distribution_plays_total',
    help: 'plays the distributor counted since it started leading (asked of any main server of the catalog)',
    registers: [registry],
    collect () { this.set(distributor.counters().plays) }
  })
  new Gauge({
    name: 'cidcast_node_hit_ratio',
    help: 'share of the bytes a node reported serving since the main server started that came from its own blocks',
    labelNames: ['node'],
    registers: [registry],
    collect () {
      for (const [peerId, { bytes, local }] of distributor.counters().served) {
        if (bytes > 0) this.set({ node: labelOf(peerId) ?? peerId }, local / bytes)
      }
    }
  })
  /* eslint-enable no-new */
}
