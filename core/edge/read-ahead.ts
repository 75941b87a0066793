import type { Logger } from '../logger.ts'

/*
 * Read-ahead on fallback: while a viewer streams a rendition the node does not hold, the node fetches the next
 * segments before the player asks, so the stream turns `local` within a few segments. Low priority by design: one
 * fetch at a time per rendition, each started only once no viewer's own miss is waiting on the origin or peers,
 * never past the rendition's last segment, and not at all while the node cannot keep what it would fetch.
 */

/** A rendition of a media. */
export interface RenditionRef {
  id: string
  profile: string
}

export interface ReadAheadComponents {
  /** Fetches segment `index` of a rendition, verified and kept as a miss is, unless it is here already. */
  fetch: (ref: RenditionRef, index: number) => Promise<void>
  /** How many segments the rendition has, when known (its media playlist). */
  segments: (ref: RenditionRef) => Promise<number | undefined>
  /** Whether the node can keep more now (disk and cache not full). */
  room: () => Promise<boolean>
  /** Resolves once no viewer's miss is waiting on the origin or peers. */
  idle: () => Promise<void>
  logger: Logger
}

export interface ReadAheadInit {
  /** Segments fetched ahead of the player; 0 turns read-ahead off. @default 3 */
  segments?: number
}

export interface ReadAhead {
  /** A viewer got segment `index` by fallback (or a segment read ahead): the next ones are fetched in the background. */
  after (ref: RenditionRef, index: number): void
  /** Resolves when every read-ahead running now has stopped. */
  settled (): Promise<void>
}

interface Run {
  /** The next segment to fetch. */
  cursor: number
  /** The last segment wanted. */
  to: number
  done: Promise<void>
}

/** Creates the read-ahead of a node's miss resolver. */
export function createReadAhead (components: ReadAheadComponents, init: ReadAheadInit = {}): ReadAhead {
  const ahead = init.segments ?? 3
  const log = components.logger.child({ name: 'cidcast:read-ahead' })
  const runs = new Map<string, Run>()

  async function work (key: string, ref: RenditionRef, run: Run): Promise<void> {
    const count = await components.segments(ref).catch(() => undefined)
    for (;;) {
      const index = run.cursor
      if (index > run.to || (count != null && index >= count)) return
      run.cursor = index + 1
      await components.idle()
      if (!await components.room()) {
        log.debug({ ...ref, index }, 'no room to keep what read-ahead would fetch: stopping')
        return
      }
      try {
        await components.fetch(ref, index)
      } catch (err) {
        // past the end of a rendition whose length is unknown, or the origin gone: the viewer's own requests decide
        log.debug({ err, ...ref, index }, 'read-ahead stopped')
        return
      }
    }
  }

  return {
    after (ref, index) {
      if (ahead <= 0) return
      const key = `${ref.id}/${ref.profile}`
      const run = runs.get(key)
      if (run != null) {
        run.to = Math.max(run.to, index + ahead)
        // the viewer caught up with it, or went back (a seek): read ahead of where the viewer is now
        if (run.cursor <= index || run.cursor > index + ahead + 1) {
          run.cursor = index + 1
          run.to = index + ahead
        }
        return
      }
      const started: Run = { cursor: index + 1, to: index + ahead, done: Promise.resolve() }
      started.done = work(key, ref, started)
        .catch(err => { log.warn({ err, ...ref }, 'read-ahead failed') })
        .finally(() => { runs.delete(key) })
      runs.set(key, started)
    },
    async settled () {
      while (runs.size > 0) await Promise.all([...runs.values()].map(r => r.done))
    }
  }
}
