import { readFile } from 'node:fs/promises'
import { writeFileAtomic } from '../fs-atomic.ts'
import type { Logger } from '../logger.ts'

/*
 * The roots this node holds because the main server's distributor placed them (issue 13: `PinOrder.auto`), with
 * their bytes: they live inside the node's cache budget beside what fallback answers keep, so the cache of kept
 * files gets the budget less these. A JSON file in the data folder, written whole (core/fs-atomic.ts).
 */

/** The record's file in a node's data folder. */
export const AUTO_PINS_FILE = 'auto-pins.json'

export interface AutoPins {
  start (): Promise<void>
  /** A root pinned on the distributor's order, and its bytes. */
  add (root: string, bytes: number): Promise<void>
  /** A root unpinned (or pinned by someone after all). */
  remove (root: string): Promise<void>
  /** Bytes of every root held so. */
  bytes (): number
}

/** Creates the record over `<data>/auto-pins.json`. */
export function createAutoPins (components: { logger: Logger }, init: { path: string }): AutoPins {
  const log = components.logger.child({ name: 'cidcast:auto-pins' })
  const roots = new Map<string, number>()
  let total = 0
  let writes: Promise<void> = Promise.resolve()

  const save = async (): Promise<void> => {
    const snapshot = JSON.stringify({ version: 1, roots: Object.fromEntries(roots) })
    writes = writes.then(async () => { await writeFileAtomic(init.path, snapshot) })
    await writes
  }

  return {
    async start () {
      let text: string
      try {
        text = await readFile(init.path, 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
        throw err
      }
      try {
        const parsed = JSON.parse(text) as { roots?: Record<string, unknown> }
        for (const [root, bytes] of Object.entries(parsed.roots ?? {})) {
          if (typeof bytes === 'number' && Number.isSafeInteger(bytes) && bytes >= 0) roots.set(root, bytes)
        }
      } catch (err) {
        // a damaged record costs only budget accounting: the pins themselves are Helia's
        log.warn({ err, path: init.path }, 'the record of automatic pins is unreadable: starting from none')
      }
      total = [...roots.values()].reduce((sum, b) => sum + b, 0)
    },
    async add (root, bytes) {
      total += bytes - (roots.get(root) ?? 0)
      roots.set(root, bytes)
      await save()
    },
    async remove (root) {
      if (!roots.has(root)) return
      total -= roots.get(root) ?? 0
      roots.delete(root)
      await save()
    },
    bytes: () => total
  }
}
