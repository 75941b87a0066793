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

/** An invitation as `GET /api/v1/nodes/invitations` lists it. */
export interface InvitationSummary {
  id: string
  name: string | null
  mode: 'shared' | 'local'
  owner: string | null
  state: 'open' | 'spent' | 'expired' | 'revoked'
  createdAt: string
  expiresAt: string
  spentAt: string | null
  spentBy: string | null
}

/** `30m`, `24h`, `7d`, `90s` or plain seconds -> seconds; undefined for anything else. */
export function parseDuration (text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$/i.exec(text)
  if (match == null) return undefined
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(match[2] ?? 's').toLowerCase() as 's' | 'm' | 'h' | 'd']
  return Math.round(Number(match[1]) * unit)
}

/** `cidcast nodes invite`: prints the join token (one line, shown once) on stdout and what it allows on stderr. */
export async function inviteNodeCommand (options: Omit<NodesCommandOptions, 'all'> & { name?: string, mode?: 'shared' | 'local', owner?: string, expiresInSeconds?: number, url?: string }): Promise<void> {
  const out = options.out ?? process.stdout
  const err = options.err ?? process.stderr
  const made = await createApiClient(options.server).request<{ token: string, invitation: InvitationSummary }>('POST', '/api/v1/nodes/invitations', {
    name: options.name, mode: options.mode, owner: options.owner, expiresInSeconds: options.expiresInSeconds, url: options.url
  })
  out.write(`${made.token}\n`)
  const i = made.invitation
  err.write(`invitation ${i.id}: ${i.mode} node${i.name == null ? '' : ` "${i.name}"`}${i.owner == null ? '' : ` owned by ${i.owner}`}, until ${i.expiresAt}; run on the node: cidcast-node join TOKEN (the token holds the network's key: share it only with that node's owner)\n`)
}

/** `cidcast nodes invitations`: one tab-separated line per invitation: id, state, mode, name, owner, expiry, spent by. */
export async function invitationsCommand (options: Omit<NodesCommandOptions, 'all'>): Promise<void> {
  const out = options.out ?? process.stdout
  const { items } = await createApiClient(options.server).request<{ items: InvitationSummary[] }>('GET', '/api/v1/nodes/invitations')
  for (const i of items) out.write([i.id, i.state, i.mode, i.name ?? '-', i.owner ?? '-', i.expiresAt, i.spentBy ?? '-'].join('\t') + '\n')
  if (items.length === 0) (options.err ?? process.stderr).write('no invitations\n')
}

/** `cidcast nodes uninvite ID`: revokes an invitation not spent yet. */
export async function uninviteCommand (id: string, options: Omit<NodesCommandOptions, 'all'>): Promise<void> {
  const i = await createApiClient(options.server).request<InvitationSummary>('DELETE', `/api/v1/nodes/invitations/${encodeURIComponent(id)}`)
  ;(options.out ?? process.stdout).write(`${i.id}\t${i.state}\n`)
}
