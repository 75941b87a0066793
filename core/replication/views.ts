import type { IndexEntry, PinState } from './content-index.ts'
import type { NodeView } from './registry.ts'

/*
 * How the content index is shown (API, CLI, UI). IPFS Cluster users complain of pins that sit in "pinning" with no
 * explanation: here every state but a reachable `pinned` comes with a `reason` in plain words, built from what the
 * index knows (node reachability, order age, progress and its age, the last error, retries).
 */

/** One (node, root) as the API shows it. */
export interface ReplicationView {
  cid: string
  mediaId: string | null
  profile: string | null
  node: {
    label: string
    name: string
    peerId: string
    dnsName: string | null
    url: string | null
    /** The node's own state in the registry. */
    state: 'online' | 'offline' | 'unknown'
    mode: 'shared' | 'local' | null
    /** Where the node says it is (`--region`); null for none, or a node the registry no longer knows. */
    region: string | null
  }
  state: PinState
  /** Placed by the distributor on its own (evictable; the UI marks it apart from pins someone asked for). */
  auto: boolean
  /** False when the node is offline or revoked: its row stays, but nobody can fetch from it now. */
  reachable: boolean
  progress: {
    blocksDone: number
    bytesDone: number
    blocksTotal: number | null
    bytesTotal: number | null
    /** 0-100 when the total is known. */
    percent: number | null
  }
  error: { name: string, message: string } | null
  attempts: number
  orderId: string | null
  /** Why it is not (or not usably) pinned; null for a reachable `pinned`. */
  reason: string | null
  orderedAt: string | null
  reportedAt: string | null
  retryAt: string | null
  updatedAt: string
}

export interface ViewSettings {
  /** Attempts before a failed pin is left failed. */
  maxAttempts: number
  /** Progress older than this makes a pin "stalled" in its reason. */
  stallMs: number
  /** The heartbeat interval nodes use (said in reasons of orders not yet taken). */
  heartbeatMs: number
  /** Errors that are never retried automatically. */
  notRetried: ReadonlySet<string>
}

/** The view of one row, with its node as the registry has it (undefined: a node the registry no longer knows). */
export function replicationView (entry: IndexEntry, node: NodeView | undefined, settings: ViewSettings, now = Date.now()): ReplicationView {
  const reachable = node != null && node.state === 'online' && !node.revoked
  const percent = entry.bytesTotal != null && entry.bytesTotal > 0
    ? Math.min(100, Math.floor(entry.bytesDone / entry.bytesTotal * 1000) / 10)
    : (entry.blocksTotal != null && entry.blocksTotal > 0 ? Math.min(100, Math.floor(entry.blocksDone / entry.blocksTotal * 1000) / 10) : null)
  return {
    cid: entry.cid,
    mediaId: entry.mediaId,
    profile: entry.profile,
    node: {
      label: node?.label ?? entry.peerId,
      name: node?.name ?? entry.peerId,
      peerId: entry.peerId,
      dnsName: node?.dnsName ?? null,
      url: node?.url ?? null,
      state: node == null ? 'unknown' : node.state,
      mode: node?.mode ?? null,
      region: node?.region ?? null
    },
    state: entry.state,
    auto: entry.auto,
    reachable,
    progress: { blocksDone: entry.blocksDone, bytesDone: entry.bytesDone, blocksTotal: entry.blocksTotal, bytesTotal: entry.bytesTotal, percent: entry.state === 'pinned' ? 100 : percent },
    error: entry.error == null ? null : { ...entry.error },
    attempts: entry.attempts,
    orderId: entry.orderId,
    reason: reasonFor(entry, node, settings, now, percent),
    orderedAt: iso(entry.orderedAtMs),
    reportedAt: iso(entry.reportedAtMs),
    retryAt: iso(entry.retryAtMs),
    updatedAt: new Date(entry.updatedAtMs).toISOString()
  }
}

function reasonFor (entry: IndexEntry, node: NodeView | undefined, settings: ViewSettings, now: number, percent: number | null): string | null {
  const label = node?.label ?? entry.peerId
  let away: string | undefined
  if (node == null) away = `node ${label} is no longer registered`
  else if (node.revoked) away = `node ${label} is revoked`
  else if (node.state !== 'online') away = `node ${label} is unreachable (last seen ${node.lastSeen == null ? 'never' : `${ago(Date.parse(node.lastSeen), now)} ago`})`
  const lastError = entry.error == null ? '' : `${entry.error.name}: ${entry.error.message}`
  switch (entry.state) {
    case 'pinned':
      return away == null ? null : `${away}; it last reported this root pinned${entry.reportedAtMs == null ? '' : ` ${ago(entry.reportedAtMs, now)} ago`}`
    case 'queued': {
      const retry = entry.attempts > 1 ? `retry ${entry.attempts} of ${settings.maxAttempts}${lastError === '' ? '' : ` after ${lastError}`}; ` : ''
      if (away != null) return `${retry}waiting for the order to be delivered: ${away}`
      if (entry.reportedAtMs == null) {
        return `${retry}order sent ${ago(entry.orderedAtMs ?? now, now)} ago; ${label} has not taken it yet (it asks for orders at least every ${Math.round(settings.heartbeatMs / 1000)} s)`
      }
      return `${retry}${label} has taken the order and waits for its other pins to finish`
    }
    case 'pinning': {
      const done = `${percent == null ? '' : `${percent}%, `}${entry.blocksDone}${entry.blocksTotal == null ? '' : `/${entry.blocksTotal}`} blocks, ${bytes(entry.bytesDone)}${entry.bytesTotal == null ? '' : ` of ${bytes(entry.bytesTotal)}`}`
      const parts = [`fetching: ${done}`]
      if (away != null) parts.push(`${away}; progress as last reported`)
      else if (entry.progressAtMs != null && now - entry.progressAtMs > settings.stallMs) parts.push(`stalled: no progress for ${ago(entry.progressAtMs, now)}`)
      if (lastError !== '') parts.push(`last error ${lastError}`)
      if (entry.attempts > 1) parts.push(`attempt ${entry.attempts} of ${settings.maxAttempts}`)
      return parts.join('; ')
    }
    case 'failed': {
      const what = entry.wanted === 'unpin' ? 'unpin failed' : 'pin failed'
      const cause = lastError === '' ? 'no reason given' : lastError
      let next: string
      if (entry.wanted !== 'pin') next = entry.wanted == null ? 'not ordered by the main server' : 'run `cidcast pin rm` again'
      else if (entry.retryAtMs != null) next = `retry ${entry.attempts + 1} of ${settings.maxAttempts} in ${ago(now, Math.max(now, entry.retryAtMs))}`
      else if (entry.error?.name === 'DataFolderFullError' && entry.attempts < settings.maxAttempts) next = `ordered again once ${label} reports room for it`
      else if (entry.error != null && settings.notRetried.has(entry.error.name)) next = 'not retried automatically; `cidcast pin add` orders it again'
      else next = `gave up after ${entry.attempts} attempt${entry.attempts === 1 ? '' : 's'}; \`cidcast pin add\` orders it again`
      return `${what}: ${cause}; ${next}${away == null ? '' : `; ${away}`}`
    }
    case 'unpinning':
      if (away != null) return `unpin waits for the node: ${away}`
      if (entry.reportedAtMs == null) return `unpin sent ${ago(entry.orderedAtMs ?? now, now)} ago; ${label} has not confirmed yet`
      return `${label} is unpinning${lastError === '' ? '' : `; last error ${lastError}`}`
  }
}

function iso (ms: number | null): string | null {
  return ms == null ? null : new Date(ms).toISOString()
}

/** `4 s`, `3 min`, `2 h`, `5 d`: the time from `then` to `now`. */
export function ago (then: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - then) / 1000))
  if (seconds < 120) return `${seconds} s`
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`
  return `${Math.round(seconds / 86_400)} d`
}

function bytes (n: number): string {
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}
