import { carBlocks, entityRange } from '../ipfs/index.ts'
import { isMissing } from './node-content.ts'
import type { NodeContent } from './node-content.ts'
import type { ContentReader, DagScope, EntityBytes } from '../ipfs/index.ts'
import type { CID } from 'multiformats/cid'

/*
 * What an `/ipfs` answer needs of the blocks, told without HTTP: the gateway route parses the request (path,
 * format, dag-scope, entity-bytes) and the miss resolver reads every block the answer will need before it is
 * written, so that a miss is found before the first byte goes out, and knows which trustless CAR of the origin
 * brings what is missing.
 */

/** An `/ipfs/{root}/{segments}` request as the gateway will answer it. */
export interface ContentNeed {
  root: CID
  /** Path segments below the root, decoded. */
  segments: string[]
  /** `raw`: the root block; `car`: a trustless CAR; `deserialized`: a file, a directory's index.html or listing. */
  format: 'raw' | 'car' | 'deserialized'
  /** The CAR's `dag-scope` (format `car`). */
  scope?: DagScope
  /** The CAR's `entity-bytes` (format `car`). */
  entityBytes?: EntityBytes
  /** The request's path (`/ipfs/...`), as received. */
  path: string
  /** The request's path and query, as received: where a redirect sends the client on the origin. */
  url: string
}

/**
 * Reads (through `reader`) every block the answer will need, so that it can then be written without a miss. With
 * the local reader, file leaves already known good are not read again (the others are read and hashed); with the
 * network reader, reading them is what pulls them from peers. False when a block is missing (or did not come in time); true also when the request is one the
 * gateway will refuse (a path that is not there, a bad range): the gateway answers it itself.
 */
export async function gatherBlocks (content: Pick<NodeContent, 'reader' | 'localFile'>, need: ContentNeed, reader: ContentReader, signal?: AbortSignal): Promise<boolean> {
  const checkOnly = reader === content.reader
  const fileReady = async (cid: CID): Promise<boolean> => {
    if (checkOnly) return await content.localFile(cid, { signal }) != null
    const entry = await reader.stat(cid, { signal })
    for await (const slice of reader.slices(entry, 0, entry.size, { signal })) await reader.read(slice, { signal })
    return true
  }
  try {
    if (need.format === 'raw') {
      if (need.segments.length > 0) return true // refused by the gateway itself
      if (checkOnly) return await reader.blocks.ready(need.root, { signal })
      await reader.blocks.get(need.root, { signal })
      return true
    }
    const resolved = await reader.resolve(need.root, need.segments, { signal })
    const entry = await reader.stat(resolved.cid, { signal })
    if (need.format === 'car') {
      let walkScope: DagScope = need.scope ?? 'all'
      let range
      if (need.entityBytes != null && entry.kind === 'file') {
        range = entityRange(need.entityBytes, entry.size)
        if (range == null) walkScope = 'block'
      }
      for await (const block of carBlocks(reader, resolved, { scope: walkScope, range, signal })) void block
      return true
    }
    if (entry.kind === 'file') return await fileReady(entry.cid)
    if (entry.kind === 'directory') {
      const index = await reader.child(entry.cid, 'index.html', { signal })
      if (index != null && (await reader.stat(index, { signal })).kind === 'file') return await fileReady(index)
      for await (const child of reader.list(entry.cid, { signal })) void child
    }
    return true
  } catch (err) {
    if (isMissing(err) || (err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError') return false
    // anything else (a bad CID or path, a path that is not there) is for the gateway itself to answer
    return true
  }
}

/** The trustless CAR request to the origin that brings what `need` needs (`scope` for deserialized answers). */
export function originCarPath (need: ContentNeed, scope: DagScope): string {
  const query = new URLSearchParams({ format: 'car' })
  if (need.format === 'raw') {
    query.set('dag-scope', 'block')
  } else if (need.format === 'car') {
    query.set('dag-scope', need.scope ?? 'all')
    if (need.entityBytes != null) query.set('entity-bytes', `${need.entityBytes.from}:${need.entityBytes.to}`)
  } else {
    query.set('dag-scope', scope)
  }
  return `${need.path}?${query.toString()}`
}
