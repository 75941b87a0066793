import { extname } from 'node:path'
import { watch } from 'chokidar'
import type { Logger } from '../core/logger.ts'
import type { Library } from '../core/media/index.ts'

/** File endings worth probing in a watched folder; anything else is ignored without a probe. */
export const MEDIA_EXTENSIONS = new Set(['.mp4', '.m4v', '.mkv', '.webm', '.mov', '.avi', '.ts', '.m2ts', '.mpg', '.mpeg', '.wmv', '.flv', '.ogv', '.m4a', '.mp3', '.aac', '.flac', '.ogg', '.opus', '.wav'])

export interface LibraryWatcher {
  stop: () => Promise<void>
}

/** Adds media files that appear in the library folders (and those already there at start). */
export async function watchLibrary ({ logger, library }: { logger: Logger, library: Library }, init: { folders: string[] }): Promise<LibraryWatcher> {
  const log = logger.child({ name: 'cidcast:library-watcher' })
  const watcher = watch(init.folders, {
    ignoreInitial: false,
    // a file still being copied in changes size: wait until it settles before probing it
    awaitWriteFinish: { stabilityThreshold: 1000, pollInterval: 200 },
    ignored: (path, stats) => stats?.isFile() === true && !MEDIA_EXTENSIONS.has(extname(path).toLowerCase())
  })
  let queue = Promise.resolve()
  const add = (path: string): void => {
    // one at a time: probing and hashing are heavy, and order keeps logs readable
    queue = queue.then(async () => {
      try {
        const { media, created } = await library.add(path)
        if (created) log.info({ id: media.id, path }, 'added')
      } catch (err) {
        log.warn({ path, error: (err as Error).name, message: (err as Error).message }, 'not added')
      }
    })
  }
  watcher.on('add', add)
  watcher.on('change', add)
  await new Promise<void>(resolve => watcher.once('ready', () => { resolve() }))
  return {
    stop: async () => {
      await watcher.close()
      await queue
    }
  }
}
