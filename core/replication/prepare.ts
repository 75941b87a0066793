import type { PreparationRepository } from '../catalog/index.ts'
import type { Logger } from '../logger.ts'

/*
 * A replication asked for a rendition that is not finished (no root CID yet: the main server transcodes on demand)
 * first has the main server make every segment; the pin is ordered when the root exists. One preparation runs per
 * (media, profile), shared by every request that needs it. What each waits for (media, profile, target) is kept in
 * the catalog until its pin is ordered: a main server stopped in the meantime takes it up again when it starts
 * (`pending()`); a failure is shown for 10 minutes and not kept.
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

/** Where replications waiting for a rendition are kept across restarts (the catalog's preparation repository). */
export type PreparationStore = Pick<PreparationRepository, 'list' | 'add' | 'remove'>

/** Failed preparations are shown this long, then forgotten. */
const FAILED_KEPT_MS = 10 * 60_000

interface Job {
  view: PreparingView
  waiting: Array<(root: string) => Promise<void>>
  endedAtMs?: number
}

/** Runs preparations with `prepare`, at most one per (media, profile). */
export function createPreparer (components: { logger: Logger, prepare: PrepareRendition, store?: PreparationStore }): Preparer {
  const log = components.logger.child({ name: 'cidcast:replication-prepare' })
  const jobs = new Map<string, Job>()
  const stopping = new AbortController()

  // store writes run one after another, in the order they were asked for (an add is never overtaken by its remove)
  let writes = Promise.resolve()
  function write (what: string, job: Job, fn: (store: PreparationStore) => Promise<void>): void {
    const { store } = components
    if (store == null) return
    const { mediaId, profile } = job.view
    writes = writes.then(async () => { await fn(store) }).catch(err => { log.warn({ err, media: mediaId, profile }, what) })
  }

  /** Keeps a target in the store; a write that fails is logged (the preparation runs all the same). */
  function save (job: Job, target: string): void {
    write('cannot keep a waiting replication', job, async store => { await store.add(job.view.mediaId, job.view.profile, target) })
  }

  /** Forgets the targets of a job once its pins are ordered or it failed (not when the server stops: they resume). */
  function settle (job: Job): void {
    if (stopping.signal.aborted) return
    const targets = [...job.view.for]
    write('cannot forget a waiting replication', job, async store => { for (const target of targets) await store.remove(job.view.mediaId, job.view.profile, target) })
  }

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
        if (!running.view.for.includes(target)) {
          running.view.for.push(target)
          save(running, target)
        }
        running.waiting.push(then)
        return { ...running.view, for: [...running.view.for] }
      }
      const job: Job = {
        view: { mediaId, profile, state: 'transcoding', for: [target], error: null, startedAt: new Date().toISOString(), reason: `the main server is making every segment of ${profile} first; the pin is ordered once the rendition has its root CID` },
        waiting: [then]
      }
      jobs.set(key, job)
      save(job, target)
      log.info({ media: mediaId, profile, target }, 'rendition prepared for replication')
      const failed = (err: unknown, what: string): void => {
        const e = err as Error
        job.endedAtMs = Date.now()
        job.view = { ...job.view, state: 'failed', error: { name: e.name ?? 'Error', message: e.message ?? String(err) }, reason: `${what}: ${e.name ?? 'Error'}: ${e.message ?? String(err)}` }
        if (!stopping.signal.aborted) log.warn({ err, media: mediaId, profile }, what)
        settle(job)
      }
      void components.prepare(mediaId, profile, { signal: stopping.signal }).then(async root => {
        // the job is listed until its pins are ordered, so a watcher never sees neither the job nor the rows
        let refused: unknown
        for (const next of job.waiting) await next(root).catch(err => { refused = err })
        if (refused == null) {
          jobs.delete(key)
          settle(job)
        } else {
          failed(refused, `${profile} is ready (${root}), but ordering its pin failed`)
        }
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
