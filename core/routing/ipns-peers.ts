import { IPNS_RECORD_CONTENT_TYPE, MAX_IPNS_RECORD_BYTES } from './ipns-records.ts'
import type { IpnsRecordStore } from './ipns-store.ts'
import type { Logger } from '../logger.ts'

/*
 * Several main servers on one catalog (issue 15): a node PUTs its IPNS record to the server it registered with, and
 * a resolver may ask any of them. A record this server lacks is asked of the others' Delegated Routing API and kept
 * here once it validates (the record is signed by its name's key: no server is trusted for it), so every server
 * answers for every node. The others are asked with `local` set (the header below), so two servers never ask each
 * other round and round.
 */

/** The header a server sets when it asks another for a record: answer from your own store only. */
export const LOCAL_RECORDS_HEADER = 'x-cidcast-local-records'
const ASK_TIMEOUT_MS = 2000

/** Wraps `store`: a miss asks `others()` (the other servers' HTTP URLs) in turn, and keeps the first valid answer. */
export function withPeerRecords (store: IpnsRecordStore, components: { others: () => string[], logger: Logger }): IpnsRecordStore {
  const log = components.logger.child({ name: 'cidcast:ipns-peers' })
  return {
    put: async (name, bytes) => await store.put(name, bytes),
    entries: () => store.entries(),
    onUpdate: listener => store.onUpdate(listener),
    async get (name, options = {}) {
      const kept = await store.get(name)
      if (kept != null || options.local === true) return kept
      for (const url of components.others()) {
        try {
          const res = await fetch(new URL(`/routing/v1/ipns/${name}`, url), { headers: { Accept: IPNS_RECORD_CONTENT_TYPE, [LOCAL_RECORDS_HEADER]: '1' }, signal: AbortSignal.timeout(ASK_TIMEOUT_MS) })
          const bytes = new Uint8Array(await res.arrayBuffer())
          if (res.status !== 200 || bytes.byteLength > MAX_IPNS_RECORD_BYTES) continue
          return (await store.put(name, bytes)).record
        } catch (err) {
          // a server that is gone, or a record that does not validate: the next one may have it
          log.debug({ err: (err as Error).name, server: url, name }, 'asking another main server for an IPNS record failed')
        }
      }
      return undefined
    }
  }
}
