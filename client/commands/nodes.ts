import { createApiClient } from '../api-client.ts'
import type { NodeSummary } from '../api-client.ts'

export interface NodesCommandOptions {
  server: string
  /** Also local and revoked nodes (the server allows it to admins only). */
  all?: boolean
  out?: NodeJS.WritableStream
  err?: NodeJS.WritableStream
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** `1536` -> `1.5 KiB`. */
export function formatBytes (bytes: number): string {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`
}

/**
 * One tab-separated line: name, DNS name, state, mode, region and tags (`-` for none; tags comma-separated), owner
 * (`-` for none, or when the caller may not see it), free space, URL.
 */
export function nodeLine (node: NodeSummary): string {
  // names cannot hold control characters (the server refuses them), so no escaping is needed for tabs or newlines;
  // regions and tags are a-z, 0-9 and - only
  const tags = node.tags != null && node.tags.length > 0 ? node.tags.join(',') : '-'
  return [node.name, node.dnsName, node.revoked ? 'revoked' : node.state, node.mode, node.region ?? '-', tags, node.owner ?? '-', `${formatBytes(node.capacity.freeBytes)} free`, node.url].join('\t')
}

/** `cidcast nodes`: prints one line per node. */
export async function nodesCommand (options: NodesCommandOptions): Promise<void> {
  const out = options.out ?? process.stdout
  const err = options.err ?? process.stderr
  const nodes = await createApiClient(options.server).listNodes({ all: options.all })
  for (const node of nodes) out.write(`${nodeLine(node)}\n`)
  if (nodes.length === 0) err.write('no nodes registered\n')
}

/** `cidcast nodes revoke NAME`: bans the node's peer ID and prints its line. */
export async function revokeNodeCommand (name: string, options: Omit<NodesCommandOptions, 'all'>): Promise<void> {
  const out = options.out ?? process.stdout
  const node = await createApiClient(options.server).revokeNode(name)
  out.write(`revoked ${node.label} ${node.peerId}\n`)
}
