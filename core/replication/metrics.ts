import { Gauge } from 'prom-client'
import type { ContentIndex, PinState } from './content-index.ts'
import type { Registry } from 'prom-client'

const STATES: readonly PinState[] = ['queued', 'pinning', 'pinned', 'failed', 'unpinning']

/** `cidcast_replication_pins{state}`: rows of the content index by state, read at every scrape. */
export function registerReplicationMetrics (registry: Registry, index: Pick<ContentIndex, 'list'>): void {
  // eslint-disable-next-line no-new -- a prom-client metric registers itself with `registers`
  new Gauge({
    name: 'cidcast_replication_pins',
    help: 'content index rows (node, root CID) by state',
    labelNames: ['state'],
    registers: [registry],
    collect () {
      const counts = new Map<string, number>(STATES.map(s => [s, 0]))
      for (const entry of index.list()) counts.set(entry.state, (counts.get(entry.state) ?? 0) + 1)
      for (const [state, n] of counts) this.set({ state }, n)
    }
  })
}
