import type { Logger } from '../logger.ts'

/*
 * A replication asked for a rendition that is not finished (no root CID yet: the main server transcodes on demand)
 * first has the main server make every segment; the pin is ordered when the root exists. Preparations live in
 * memory: one per (media, profile), shared by every request that needs it; a restart of the main server forgets
 * them (the request is then simply made again).
 */

/** Makes every segment of a rendition and answers its root CID (the server wires the transcoder and library). */
export type PrepareRendition = (mediaId: string, profile: string, options: { signal: AbortSignal }) => Promise<string>

/** A preparation as the API shows it. */
export interface PreparingView {
  mediaId: string
  profile: string
  /** `transcoding` while segments are made; `failed` (with `error`) when they could not be. */
  state: 'transcoding' | 'failed'
  /** Nodes (labels) waiting for it, or `replicas MIN:MAX` when the server places the pin. */
  for: string[]
  error: { name: string, message: string } | null
  startedAt: string
  reason: string
}

export interface Preparer {
  /** Starts (or joins) the preparation of (media, profile); `then` runs with the root once it exists. */
  prepare (mediaId: string, profile: string, target: string, then: (root: string) => Promise<void>): PreparingView
  /** Preparations running, or failed in the last 10 minutes, of one media or all. */
  list (mediaId?: string): PreparingView[]
  stop (): void
}

/** Failed preparations are shown this long, then forgotten. */
const FAILED_KEPT_MS = 10 * 60_000

interface Job {
  view: PreparingView
  waiting: Array<(root: string) => Promise<void>>
  endedAtMs?: number
}

/** Runs preparations with `prepare`, at most one per (media, profile). */
export function createPreparer (components: { logger: Logger, prepare: PrepareRendition }): Preparer {
  const log = components.logger.child({ name: 'cidcast:replication-prepare' })
  const jobs = new Map<string, Job>()
  const stopping = new AbortController()

  function forget (): void {
    const now = Date.now()
    for (const [key, job] of jobs) if (job.endedAtMs != null && now - job.endedAtMs > FAILED_KEPT_MS) jobs.delete(key)
  }

  return {
    prepare (mediaId, profile, target, then) {
      forget()
      const key = `${mediaId}/${profile}`
      const running = jobs.get(key)
      if (running != null && running.view.state === 'transcoding') {
        if (!running.view.for.includes(target)) running.view.for.push(target)
        running.waiting.push(then)
        return { ...running.view, for: [...running.view.for] }
      }
      const job: Job = {
        view: { mediaId, profile, state: 'transcoding', for: [target], error: null, startedAt: new Date().toISOString(), reason: `the main server is making every segment of ${profile} first; the pin is ordered once the rendition has its root CID` },
        waiting: [then]
      }
      jobs.set(key, job)
      log.info({ media: mediaId, profile, target }, 'rendition prepared for replication')
      const failed = (err: unknown, what: string): void => {
        const e = err as Error
        job.endedAtMs = Date.now()
        job.view = { ...job.view, state: 'failed', error: { name: e.name ?? 'Error', message: e.message ?? String(err) }, reason: `${what}: ${e.name ?? 'Error'}: ${e.message ?? String(err)}` }
        if (!stopping.signal.aborted) log.warn({ err, media: mediaId, profile }, what)
      }
      void components.prepare(mediaId, profile, { signal: stopping.signal }).then(async root => {
        // the job is listed until its pins are ordered, so a watcher never sees neither the job nor the rows
        let refused: unknown
        for (const next of job.waiting) await next(root).catch(err => { refused = err })
        if (refused == null) jobs.delete(key)
        else failed(refused, `${profile} is ready (${root}), but ordering its pin failed`)
      }, err => { failed(err, `the main server could not make ${profile}; nothing was ordered`) })
      return { ...job.view, for: [...job.view.for] }
    },
    list (mediaId) {
      forget()
      return [...jobs.values()].map(j => j.view).filter(v => mediaId == null || v.mediaId === mediaId).map(v => ({ ...v, for: [...v.for] }))
    },
    stop () {
      stopping.abort()
    }
  }
}
