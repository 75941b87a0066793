import { Command, InvalidArgumentError } from 'commander'
import { ApiError, createApiClient } from '../api-client.ts'
import type { ApiClient } from '../api-client.ts'
import type { DistributionDecision, DistributionStatus } from '../../core/distribution/index.ts'
import type { GoalView, MediaLocations, PinResult, PreparingView, ReplicationView } from '../../core/replication/index.ts'

/*
 * `cidcast pin add|ls|rm` and `cidcast status`, in the manner of Kubo and IPFS Cluster, over the main server's
 * `/api/v1/replications`. A media id (16 hex digits) stands for its finished renditions; anything else is a CID.
 * Every state that is not a reachable `pinned` is printed with the server's reason.
 */

export interface PinOutput {
  out?: NodeJS.WritableStream
  err?: NodeJS.WritableStream
  /** Time between two looks at the index while waiting. @default 500 */
  pollMs?: number
}

const MEDIA_ID = /^[0-9a-f]{16}$/
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

/** `{ media }` for a media id, `{ cid }` for anything else. */
export function target (arg: string): { media: string } | { cid: string } {
  return MEDIA_ID.test(arg) ? { media: arg } : { cid: arg }
}

function bytes (n: number): string {
  let value = n
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) { value /= 1024; unit++ }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`
}

/** `40.5% 2/6 blocks, 1.0 MiB of 2.5 MiB`, or `-` before anything is known. */
export function progressText (view: ReplicationView): string {
  const p = view.progress
  if (p.blocksDone === 0 && p.bytesDone === 0 && p.blocksTotal == null && view.state !== 'pinned') return '-'
  const percent = p.percent == null ? '' : `${p.percent}% `
  const blocks = `${p.blocksDone}${p.blocksTotal == null ? '' : `/${p.blocksTotal}`} blocks`
  const size = p.bytesTotal == null ? bytes(p.bytesDone) : (p.bytesDone >= p.bytesTotal ? bytes(p.bytesTotal) : `${bytes(p.bytesDone)} of ${bytes(p.bytesTotal)}`)
  return `${percent}${blocks}, ${size}`
}

function stateText (view: ReplicationView): string {
  // a copy automatic distribution placed (and may evict) is told apart from a pin someone asked for
  const state = view.auto ? `${view.state} (auto)` : view.state
  return view.reachable ? state : `${state} (unreachable)`
}

/** One `status` line of an automatic decision about a media: what, where, by which rule, its score, when, why. */
export function decisionLine (d: DistributionDecision): string {
  return `  auto ${d.kind} on ${d.node} (${d.rule}, score ${d.score.toFixed(2)}, ${d.at}): ${d.reason}`
}

/** One `pin ls` line: CID, node, state, progress, media and profile, reason. */
export function pinLine (view: ReplicationView): string {
  const what = view.mediaId == null ? '-' : `${view.mediaId}${view.profile == null ? '' : ` ${view.profile}`}`
  return [view.cid, view.node.label, stateText(view), progressText(view), what, view.reason ?? ''].join('\t').trimEnd()
}

/** The `status` line of a kept replication factor: who counts toward it, or why it is not met. */
export function goalLine (goal: GoalView): string {
  const factor = goal.min === goal.max ? `${goal.min}` : `${goal.min}:${goal.max}`
  const holders = goal.holders.length === 0 ? 'no node' : goal.holders.join(', ')
  return goal.state === 'met' ? `  replicas ${factor}: held by ${holders}` : `  replicas ${factor}: under-replicated, held by ${holders} (${goal.reason ?? 'placing more'})`
}

/** One `status` line (under its root): node, state, progress, reason. */
export function statusLine (view: ReplicationView): string {
  // the node's region beside its label, so a status shows how copies spread
  const node = view.node.region != null ? `${view.node.label} (${view.node.region})` : view.node.label
  return `  ${[node, stateText(view), progressText(view), view.reason ?? ''].join('\t')}`.trimEnd()
}

function query (fields: Record<string, string | undefined>): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(fields)) if (v != null) params.set(k, v)
  const q = params.toString()
  return q === '' ? '' : `?${q}`
}

/** A pin is over when it is pinned, or failed with no retry planned. */
function settled (view: ReplicationView): boolean {
  return view.state === 'pinned' || (view.state === 'failed' && view.retryAt == null)
}

function parseTimeout (value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number of seconds > 0')
  return n
}

/** The `pin` command (add, ls, rm) for the `cidcast` program; more verbs (e.g. a node's `verify`) can be added to it. */
export function pinCommand (defaultServer: string, io: PinOutput = {}): Command {
  const out = (): NodeJS.WritableStream => io.out ?? process.stdout
  const err = (): NodeJS.WritableStream => io.err ?? process.stderr
  const pollMs = io.pollMs ?? 500
  const pin = new Command('pin')
    .description('replicate media or CIDs to CDN nodes, list and remove pins (like ipfs-cluster-ctl pin)')
    .option('--server <url>', 'main server URL (env CIDCAST_SERVER)', defaultServer)
  const client = (opts: { server?: string }): ApiClient => createApiClient(opts.server ?? pin.opts<{ server: string }>().server, { timeoutMs: 60_000 })

  pin.command('add')
    .description('pin a media (its finished renditions) or a CID on a node, or on MIN to MAX nodes the server chooses')
    .argument('<media-id|cid>')
    .option('--node <name>', 'the node (label, name or peer ID)')
    .option('--replicas <min[:max]>', 'let the server choose MIN to MAX online shared nodes, freest first')
    .option('--profile <name>', 'only this rendition of the media (e.g. 720p)')
    .option('--wait', 'wait until every pin is pinned or has failed for good, showing progress')
    .option('--timeout <seconds>', 'with --wait: give up after this long', parseTimeout)
    .option('--server <url>', 'main server URL (env CIDCAST_SERVER)')
    .action(async (arg: string, opts: { node?: string, replicas?: string, profile?: string, wait?: boolean, timeout?: number, server?: string }) => {
      if ((opts.node == null) === (opts.replicas == null)) throw new InvalidArgumentError('give either --node NAME or --replicas MIN[:MAX]')
      const api = client(opts)
      const { items, preparing } = await api.request<PinResult>('POST', '/api/v1/replications', { ...target(arg), node: opts.node, replicas: opts.replicas, profile: opts.profile })
      for (const p of preparing) out().write(`preparing ${p.mediaId} ${p.profile} for ${p.for.join(', ')} (${p.reason})\n`)
      if (opts.wait !== true) {
        for (const view of items) out().write(`${view.state} ${view.cid} on ${view.node.label}${view.reason == null ? '' : ` (${view.reason})`}\n`)
        return
      }
      const { views: final, failures } = await waitFor(api, items, { preparing, node: opts.node }, opts.timeout)
      let failed = failures.length
      for (const p of failures) err().write(`failed ${p.mediaId} ${p.profile}: ${p.reason}\n`)
      for (const view of final) {
        if (view.state === 'pinned') {
          out().write(`pinned ${view.cid} on ${view.node.label}\n`)
        } else {
          failed++
          err().write(`${view.state} ${view.cid} on ${view.node.label}: ${view.reason ?? 'no reason given'}\n`)
        }
      }
      if (failed > 0) process.exitCode = 1
    })

  pin.command('ls')
    .description('list pins: CID, node, state, progress, media, and the reason for any state but pinned')
    .option('--node <name>', 'only this node')
    .option('--cid <cid>', 'only this root')
    .option('--media <id>', 'only the renditions of this media')
    .option('--server <url>', 'main server URL (env CIDCAST_SERVER)')
    .action(async (opts: { node?: string, cid?: string, media?: string, server?: string }) => {
      const { items } = await client(opts).request<{ items: ReplicationView[] }>('GET', `/api/v1/replications${query({ node: opts.node, cid: opts.cid, media: opts.media })}`)
      for (const view of items) out().write(`${pinLine(view)}\n`)
      if (items.length === 0) err().write('no pins\n')
    })

  pin.command('rm')
    .description('unpin a media or CID from a node, or from every node that has it (the nodes free the space)')
    .argument('<media-id|cid>')
    .option('--node <name>', 'only this node')
    .option('--wait', 'wait until the nodes confirm')
    .option('--timeout <seconds>', 'with --wait: give up after this long', parseTimeout)
    .option('--server <url>', 'main server URL (env CIDCAST_SERVER)')
    .action(async (arg: string, opts: { node?: string, wait?: boolean, timeout?: number, server?: string }) => {
      const api = client(opts)
      const t = target(arg)
      const { items } = await api.request<{ items: ReplicationView[] }>('DELETE', `/api/v1/replications${query({ ...t, node: opts.node })}`)
      if (opts.wait !== true) {
        for (const view of items) out().write(`unpinning ${view.cid} on ${view.node.label}\n`)
        return
      }
      const deadline = opts.timeout == null ? Infinity : Date.now() + opts.timeout * 1000
      const pending = new Map(items.map(v => [`${v.node.peerId} ${v.cid}`, v]))
      for (;;) {
        for (const [k, view] of pending) {
          const { items: now } = await api.request<{ items: ReplicationView[] }>('GET', `/api/v1/replications${query({ cid: view.cid, node: view.node.peerId })}`)
          if (now.length === 0) {
            out().write(`unpinned ${view.cid} on ${view.node.label}\n`)
            pending.delete(k)
          } else if (now[0].state !== 'unpinning') {
            err().write(`${now[0].state} ${view.cid} on ${view.node.label}: ${now[0].reason ?? 'no reason given'}\n`)
            pending.delete(k)
            process.exitCode = 1
          } else {
            pending.set(k, now[0])
          }
        }
        if (pending.size === 0) return
        if (Date.now() > deadline) {
          for (const view of pending.values()) err().write(`unpinning ${view.cid} on ${view.node.label}: ${view.reason ?? ''} (gave up waiting)\n`)
          process.exitCode = 1
          return
        }
        await new Promise(resolve => setTimeout(resolve, pollMs))
      }
    })

  /**
   * Polls the rows of `items` (and, while renditions are made first, the media's rows of those profiles as they
   * appear) until each has settled, printing progress: a redrawn line on a TTY, a line per change elsewhere.
   */
  async function waitFor (api: ApiClient, items: ReplicationView[], first: { preparing: PreparingView[], node?: string }, timeoutSeconds?: number): Promise<{ views: ReplicationView[], failures: PreparingView[] }> {
    const deadline = timeoutSeconds == null ? Infinity : Date.now() + timeoutSeconds * 1000
    const tty = (out() as NodeJS.WriteStream).isTTY === true
    const last = new Map<string, string>()
    const show = (k: string, line: string): void => {
      if (last.get(k) === line) return
      last.set(k, line)
      if (tty) out().write(`\r\u001b[2K${line.slice(0, ((out() as NodeJS.WriteStream).columns ?? 120) - 1)}`)
      else out().write(`${line}\n`)
    }
    let views = items
    let preparing = first.preparing
    const failures: PreparingView[] = []
    for (;;) {
      if (preparing.length > 0) {
        const media = preparing[0].mediaId
        const now = await api.request<{ items: ReplicationView[], preparing?: PreparingView[] }>('GET', `/api/v1/replications${query({ media, node: first.node })}`)
        const still: PreparingView[] = []
        for (const p of preparing) {
          const current = now.preparing?.find(q => q.profile === p.profile)
          if (current?.state === 'failed') {
            failures.push(current)
          } else if (current != null) {
            still.push(current)
            show(`prepare ${p.profile}`, `preparing ${p.mediaId} ${p.profile}: transcoding on the main server`)
          } else {
            // made, and its pins ordered: follow the rows of that profile from now on
            const rows = now.items.filter(v => v.profile === p.profile)
            // the server lists a preparation until its pins are ordered, so no row at all is a failure, never a success
            if (rows.length === 0) failures.push({ ...p, state: 'failed', reason: `${p.profile} is no longer being made, yet no pin of it is listed` })
            views = [...views, ...rows.filter(v => !views.some(w => w.cid === v.cid && w.node.peerId === v.node.peerId))]
          }
        }
        preparing = still
      }
      const fresh: ReplicationView[] = []
      for (const view of views) {
        const { items: now } = await api.request<{ items: ReplicationView[] }>('GET', `/api/v1/replications${query({ cid: view.cid, node: view.node.peerId })}`)
        fresh.push(now[0] ?? { ...view, state: 'failed', retryAt: null, reason: 'the row left the content index (unpinned meanwhile?)' })
      }
      views = fresh
      for (const view of views) {
        if (settled(view)) continue
        show(`${view.node.peerId} ${view.cid}`, `${view.state} ${view.cid} on ${view.node.label}: ${progressText(view)}${view.state === 'pinning' || view.state === 'pinned' ? '' : ` (${view.reason ?? ''})`}`)
      }
      if (preparing.length === 0 && views.every(settled)) {
        if (tty) out().write('\r\u001b[2K')
        return { views, failures }
      }
      if (Date.now() > deadline) {
        if (tty) out().write('\n')
        const late = preparing.map(p => ({ ...p, reason: `still transcoding after ${timeoutSeconds ?? 0} s (gave up waiting)` }))
        return { views: views.map(v => settled(v) ? v : { ...v, reason: `${v.reason ?? v.state} (gave up waiting after ${timeoutSeconds ?? 0} s)` }), failures: [...failures, ...late] }
      }
      await new Promise(resolve => setTimeout(resolve, pollMs))
    }
  }

  return pin
}

/** `cidcast status <media-id|cid>`: per root, one line per node with state, progress and the reason when not pinned. */
export function statusCommand (defaultServer: string, io: PinOutput = {}): Command {
  const out = (): NodeJS.WritableStream => io.out ?? process.stdout
  return new Command('status')
    .description('where a media or CID is: one line per node with state, progress and, when not pinned, why')
    .argument('<media-id|cid>')
    .option('--server <url>', 'main server URL (env CIDCAST_SERVER)', defaultServer)
    .action(async (arg: string, opts: { server: string }) => {
      const api = createApiClient(opts.server, { timeoutMs: 60_000 })
      const t = target(arg)
      if ('media' in t) {
        const where = await api.request<MediaLocations>('GET', `/api/v1/media/${encodeURIComponent(t.media)}/locations`)
        for (const r of where.renditions) {
          let note = r.server ? 'main server holds it' : 'main server does not hold it'
          if (r.root == null) note = r.preparing == null ? `rendition ${r.state}: replicable once finished (pin add makes it first)` : `${r.preparing.state === 'failed' ? 'preparing failed' : `being made for ${r.preparing.for.join(', ')}`}: ${r.preparing.reason}`
          out().write(`${r.root ?? '(no root yet)'}\t${where.media} ${r.profile}\t${note}\n`)
          if (r.goal != null) out().write(`${goalLine(r.goal)}\n`)
          for (const view of r.locations) out().write(`${statusLine(view)}\n`)
          if (r.root != null && r.locations.length === 0) out().write('  (on no node)\n')
        }
        // automatic distribution's reasons are for admins: others see the rows above only
        const decisions = await api.request<DistributionStatus>('GET', '/api/v1/distribution').then(d => d.decisions, err => {
          if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return []
          throw err
        })
        for (const d of decisions.filter(d => d.mediaId === where.media)) out().write(`${decisionLine(d)}\n`)
        return
      }
      const { items, goals } = await api.request<{ items: ReplicationView[], goals?: GoalView[] }>('GET', `/api/v1/replications${query({ cid: t.cid })}`)
      out().write(`${t.cid}\n`)
      for (const goal of goals ?? []) out().write(`${goalLine(goal)}\n`)
      for (const view of items) out().write(`${statusLine(view)}\n`)
      if (items.length === 0) out().write('  (on no node)\n')
    })
}
