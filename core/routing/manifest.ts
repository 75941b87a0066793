import { exporter } from 'ipfs-unixfs-exporter'
import { importBytes } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import { InvalidRequestError } from '../errors.ts'
import { IMPORT_OPTIONS } from '../ipfs/index.ts'
import type { NodeCapacity, NodeMode } from '../control/index.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'

/** Version written into every manifest, so readers can refuse a layout they do not know. */
export const MANIFEST_VERSION = 1
/** Largest manifest read back: ~60k pinned roots; anything bigger is refused rather than buffered. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024

/**
 * What a CDN node publishes under its IPNS name: who it is, where it serves, how much room it has and which
 * roots it holds. Stored as a JSON UnixFS file, so any gateway, bitswap peer or verified-fetch can read it.
 */
export interface NodeManifest {
  version: typeof MANIFEST_VERSION
  name: string
  /** The node's peer ID (`12D3Koo...`), the key that signs its IPNS record. */
  peerId: string
  mode: NodeMode
  /** The node's HTTP gateway. */
  url: string
  capacity: NodeCapacity
  /** Root CIDs the node holds pinned (CIDv1 strings, sorted, no duplicates). */
  pinned: string[]
  /** When the content last changed (ISO 8601). */
  updatedAt: string
}

/** A manifest's fields before normalization (any CID spelling, any order, no version). */
export type NodeManifestInput = Omit<NodeManifest, 'version'> & { version?: number }

/** Canonical form: fixed key order, pinned roots as sorted unique CIDv1 strings, so equal content gives equal bytes. */
export function normalizeManifest (input: NodeManifestInput): NodeManifest {
  const manifest = checkManifest({ ...input, version: input.version ?? MANIFEST_VERSION })
  return {
    version: MANIFEST_VERSION,
    name: manifest.name,
    peerId: manifest.peerId,
    mode: manifest.mode,
    url: manifest.url,
    capacity: { quotaBytes: manifest.capacity.quotaBytes, usedBytes: manifest.capacity.usedBytes, freeBytes: manifest.capacity.freeBytes },
    pinned: [...new Set(manifest.pinned.map(cid => CID.parse(cid).toV1().toString()))].sort(),
    updatedAt: new Date(manifest.updatedAt).toISOString()
  }
}

/** Whether two manifests say the same thing, `updatedAt` aside (a republish of unchanged content is no change). */
export function sameManifestContent (a: NodeManifestInput, b: NodeManifestInput): boolean {
  const strip = (m: NodeManifestInput): string => JSON.stringify({ ...normalizeManifest(m), updatedAt: '' })
  return strip(a) === strip(b)
}

/** The manifest's bytes: canonical JSON with a trailing newline. */
export function encodeManifest (input: NodeManifestInput): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(normalizeManifest(input), null, 2) + '\n')
}

/** Parses and checks manifest bytes; throws InvalidRequestError naming the first bad field. */
export function decodeManifest (bytes: Uint8Array): NodeManifest {
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw new InvalidRequestError('a node manifest must be UTF-8 JSON')
  }
  return normalizeManifest(checkManifest(value))
}

/** Imports the manifest into `blockstore` as a UnixFS file under the project's import profile; returns its CID. */
export async function storeManifest (blockstore: Pick<Blockstore, 'put'>, input: NodeManifestInput): Promise<CID> {
  const bytes = encodeManifest(input)
  const { cid } = await importBytes(bytes, blockstore, { ...IMPORT_OPTIONS })
  return cid
}

/** Reads a manifest back from `blockstore` (blocks are checked against their CIDs on the way in, not here). */
export async function readManifest (blockstore: Pick<Blockstore, 'get' | 'has'>, cid: CID, options: AbortOptions = {}): Promise<NodeManifest> {
  const entry = await exporter(cid, blockstore, { signal: options.signal })
  if (entry.type !== 'file' && entry.type !== 'raw') throw new InvalidRequestError(`${cid.toString()} is not a manifest file`)
  if (Number(entry.size) > MAX_MANIFEST_BYTES) throw new InvalidRequestError(`the manifest ${cid.toString()} is larger than ${MAX_MANIFEST_BYTES} bytes`)
  const chunks: Uint8Array[] = []
  for await (const chunk of entry.content({ signal: options.signal })) chunks.push(chunk)
  return decodeManifest(Buffer.concat(chunks))
}

function checkManifest (value: unknown): NodeManifest {
  if (value == null || typeof value !== 'object' || Array.isArray(value)) throw bad('the manifest', 'an object')
  const m = value as Record<string, unknown>
  if (m.version !== MANIFEST_VERSION) throw bad('version', `${MANIFEST_VERSION}`)
  for (const field of ['name', 'peerId', 'url', 'updatedAt'] as const) {
    if (typeof m[field] !== 'string' || m[field].length === 0 || m[field].length > 2048) throw bad(field, 'a non-empty string')
  }
  if (m.mode !== 'shared' && m.mode !== 'local') throw bad('mode', '"shared" or "local"')
  if (Number.isNaN(new Date(m.updatedAt as string).getTime())) throw bad('updatedAt', 'an ISO 8601 date')
  const capacity = m.capacity as Record<string, unknown> | null
  if (capacity == null || typeof capacity !== 'object') throw bad('capacity', 'an object')
  for (const field of ['quotaBytes', 'usedBytes', 'freeBytes'] as const) {
    if (typeof capacity[field] !== 'number' || !Number.isSafeInteger(capacity[field]) || capacity[field] < 0) throw bad(`capacity.${field}`, 'a whole number of bytes')
  }
  if (!Array.isArray(m.pinned)) throw bad('pinned', 'an array of CIDs')
  for (const cid of m.pinned) {
    try {
      if (typeof cid !== 'string') throw new Error('not a string')
      CID.parse(cid)
    } catch {
      throw bad('pinned', 'an array of CIDs')
    }
  }
  return m as unknown as NodeManifest
}

function bad (field: string, expected: string): Error {
  return new InvalidRequestError(`manifest: ${field} must be ${expected}`)
}
