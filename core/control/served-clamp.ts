import type { ServedReport } from './messages.ts'

/*
 * A node's served reports are claims: it is inside the private network, but it is still someone else's machine, and
 * what it claims to have served moves content (issue #13). parseServedReport (validate.ts) refuses what is malformed;
 * this file bounds what is well formed but could not be true, so a node can inflate demand only as far as it could
 * really have served it, and never claim local hits of what it does not hold.
 */

/** 10 Gbit/s: more than any node's uplink serves in one beat interval; a claim above it is scaled down. */
export const MAX_NODE_UPLINK_BYTES_PER_SECOND = 1_250_000_000
/** Answers per second a node could give at most (the same bound for requests). */
export const MAX_NODE_REQUESTS_PER_SECOND = 50_000

export interface ServedLimits {
  /**
   * Roots the node may hold: those it reports pinned in the same heartbeat, and those it fetched by fallback lately
   * (it keeps them as its cache). `local` bytes of any other root count as 0.
   */
  pinned: { has: (root: string) => boolean }
  /** Epoch milliseconds on the server's clock. */
  now: number
  /** The span the counts can cover: since the node's last acknowledged beat, with slack for a late one. */
  windowMs: number
  /** @default MAX_NODE_UPLINK_BYTES_PER_SECOND */
  uplinkBytesPerSecond?: number
  /** @default MAX_NODE_REQUESTS_PER_SECOND */
  requestsPerSecond?: number
}

/** The key a report is counted under: its root, or its media and profile. */
function keyOf (report: ServedReport): string {
  return report.root ?? `${report.media ?? ''}/${report.profile ?? ''}`
}

/** Two reports of one key as one (a node sends each key once; a repeated one is summed, then bounded like the rest). */
function merge (a: ServedReport, b: ServedReport): ServedReport {
  return {
    ...a,
    requests: a.requests + b.requests,
    bytes: a.bytes + b.bytes,
    local: a.local + b.local,
    peer: a.peer + b.peer,
    origin: a.origin + b.origin,
    redirects: a.redirects + b.redirects,
    viewers: a.viewers + b.viewers,
    firstAt: Math.min(a.firstAt, b.firstAt),
    lastAt: Math.max(a.lastAt, b.lastAt)
  }
}

/** One report made consistent with itself, with what the node holds and with the window. */
function bound (report: ServedReport, limits: ServedLimits): ServedReport {
  const { requests } = report
  // bytes and sources without an answer, or local bytes of a root not held here, were not served
  const local = requests > 0 && report.root !== undefined && limits.pinned.has(report.root) ? report.local : 0
  const peer = requests > 0 ? report.peer : 0
  const origin = requests > 0 ? report.origin : 0
  const start = limits.now - limits.windowMs
  const lastAt = Math.min(Math.max(report.lastAt, start), limits.now)
  const firstAt = Math.min(Math.max(report.firstAt, start), lastAt)
  return {
    ...report,
    bytes: local + peer + origin,
    local,
    peer,
    origin,
    redirects: Math.min(report.redirects, requests),
    viewers: Math.min(report.viewers, requests),
    firstAt,
    lastAt
  }
}

/** Scales the byte sources of every report down so that their sum fits `cap`. */
function fitBytes (reports: ServedReport[], cap: number): ServedReport[] {
  const total = reports.reduce((sum, r) => sum + r.bytes, 0)
  if (total <= cap) return reports
  const share = cap / total
  return reports.map(r => {
    const local = Math.floor(r.local * share)
    const peer = Math.floor(r.peer * share)
    const origin = Math.floor(r.origin * share)
    return { ...r, bytes: local + peer + origin, local, peer, origin }
  })
}

/** Scales request counts down so that their sum fits `cap` (redirects and viewers follow). */
function fitRequests (reports: ServedReport[], cap: number): ServedReport[] {
  const total = reports.reduce((sum, r) => sum + r.requests, 0)
  if (total <= cap) return reports
  const share = cap / total
  return reports.map(r => {
    const requests = Math.floor(r.requests * share)
    return { ...r, requests, redirects: Math.min(r.redirects, requests), viewers: Math.min(r.viewers, requests) }
  })
}

/**
 * The served reports of one heartbeat as the server takes them: one per key, `bytes` the sum of its sources, local
 * bytes only for roots the node holds, redirects and viewers at most the requests, times inside the window, and the
 * beat's bytes and requests at most what a node could send in the window (scaled down alike when over).
 */
export function clampServed (reports: readonly ServedReport[], limits: ServedLimits): ServedReport[] {
  const byKey = new Map<string, ServedReport>()
  for (const report of reports) {
    const key = keyOf(report)
    const known = byKey.get(key)
    byKey.set(key, known == null ? report : merge(known, report))
  }
  const seconds = Math.max(0, limits.windowMs) / 1000
  const bounded = [...byKey.values()].map(r => bound(r, limits))
  const fitted = fitBytes(bounded, Math.floor((limits.uplinkBytesPerSecond ?? MAX_NODE_UPLINK_BYTES_PER_SECOND) * seconds))
  return fitRequests(fitted, Math.floor((limits.requestsPerSecond ?? MAX_NODE_REQUESTS_PER_SECOND) * seconds))
}
