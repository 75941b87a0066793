import { readdir } from 'node:fs/promises'
import { posix } from 'node:path'
import { IMPORT_OPTIONS } from '../ipfs/index.ts'
import { ImageRefusedError } from './errors.ts'
import { sniffImage } from './image-fetcher.ts'
import { openSidecar } from './sidecar-open.ts'
import type { ImageFetcher } from './image-fetcher.ts'
import type { MetadataRepository } from '../catalog/index.ts'
import type { Logger } from '../logger.ts'
import type { UnixFS } from '@helia/unixfs'
import type { Pins } from '@helia/interface'

/*
 * Artwork, fetched once and kept in IPFS: each source (a provider URL, a local file by path, size and mtime,
 * or a frame of the media's own video by its source CID) maps to the CID of its bytes in the `images` table,
 * so the second ask is a lookup. Stored images are
 * pinned and served like any other content by /ipfs on every gateway.
 */

/** Largest local artwork file read. */
const MAX_LOCAL_BYTES = 10 * 1024 * 1024
const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif']
const VIDEO_EXTENSIONS = new Set(['.mp4', '.m4v', '.mkv', '.webm', '.mov', '.avi', '.ts', '.m2ts', '.mpg', '.mpeg', '.wmv', '.flv', '.ogv'])

export interface ImageStoreComponents {
  logger: Logger
  store: Pick<MetadataRepository, 'image' | 'putImage'>
  /** Absent: remote images are not fetched at all. */
  fetcher?: ImageFetcher
  unixfs: Pick<UnixFS, 'addBytes'>
  pins: Pick<Pins, 'add' | 'isPinned'>
}

export interface ImageStore {
  /** The CID of the image at `url`, fetched the first time; undefined (and a logged reason) when refused. */
  remote: (url: string, options?: { signal?: AbortSignal }) => Promise<string | undefined>
  /** The CID of a local artwork file; undefined when missing or not an image. */
  local: (path: string) => Promise<string | undefined>
  /** The CID of a picture made from the media itself (a video frame), made by `make` only the first time `key` is asked. */
  made: (key: string, make: () => Promise<Uint8Array>) => Promise<string | undefined>
  /** The CID stored for `key` (a URL, or a made picture's key) without fetching or making anything. */
  known: (key: string) => Promise<string | undefined>
}

/** Local artwork next to a media file or in a series folder, Kodi/Jellyfin names. */
export interface LocalArtwork { poster?: string, backdrop?: string, still?: string, seasons: Map<number, string> }

/** Creates the image store. */
export function createImageStore (components: ImageStoreComponents): ImageStore {
  const log = components.logger.child({ name: 'cidcast:metadata:images' })
  const inflight = new Map<string, Promise<string | undefined>>()

  async function keep (source: string, bytes: Uint8Array, type: string): Promise<string> {
    const cid = await components.unixfs.addBytes(bytes, { ...IMPORT_OPTIONS })
    if (!await components.pins.isPinned(cid)) {
      for await (const pinned of components.pins.add(cid)) void pinned
    }
    await components.store.putImage(source, cid.toString(), type, bytes.byteLength)
    return cid.toString()
  }

  async function once (source: string, work: () => Promise<string | undefined>): Promise<string | undefined> {
    const known = await components.store.image(source)
    if (known != null) return known.cid
    const running = inflight.get(source)
    if (running != null) return await running
    const job = work().finally(() => inflight.delete(source))
    inflight.set(source, job)
    return await job
  }

  return {
    async remote (url, options = {}) {
      const fetcher = components.fetcher
      if (fetcher == null) return undefined
      return await once(url, async () => {
        try {
          const image = await fetcher.fetch(url, options)
          return await keep(url, image.bytes, image.type)
        } catch (err) {
          if (err instanceof ImageRefusedError) log.warn({ url, reason: err.message }, 'image refused')
          else log.warn({ url, err }, 'image not stored')
          return undefined
        }
      })
    },

    async local (path) {
      let handle
      try {
        handle = await openSidecar(path)
      } catch {
        return undefined
      }
      try {
        const info = await handle.stat()
        if (!info.isFile() || info.size === 0 || info.size > MAX_LOCAL_BYTES) {
          if (info.size > MAX_LOCAL_BYTES) log.warn({ path, bytes: info.size }, 'local artwork too big; ignored')
          return undefined
        }
        return await once(`file://${path}#${info.size}-${info.mtimeMs}`, async () => {
          const bytes = new Uint8Array(info.size)
          await handle.read(bytes, 0, info.size, 0)
          const type = sniffImage(bytes)
          if (type == null) {
            log.warn({ path }, 'local artwork is not a JPEG, PNG, WebP or GIF image; ignored')
            return undefined
          }
          return await keep(`file://${path}#${info.size}-${info.mtimeMs}`, bytes, type)
        })
      } finally {
        await handle.close()
      }
    },

    async made (key, make) {
      return await once(key, async () => {
        const bytes = await make()
        const type = sniffImage(bytes)
        if (type == null) {
          log.warn({ key }, 'a made picture is not a JPEG, PNG, WebP or GIF image; not stored')
          return undefined
        }
        return await keep(key, bytes, type)
      })
    },

    async known (key) {
      return (await components.store.image(key))?.cid
    }
  }
}

async function listFolder (folder: string): Promise<string[]> {
  try {
    return (await readdir(folder, { withFileTypes: true })).filter(e => e.isFile()).map(e => e.name)
  } catch {
    return []
  }
}

function pick (names: string[], folder: string, stems: string[]): string | undefined {
  const lower = new Map(names.map(n => [n.toLowerCase(), n]))
  for (const stem of stems) {
    for (const ext of IMAGE_EXTENSIONS) {
      const name = lower.get(`${stem.toLowerCase()}${ext}`)
      if (name != null) return posix.join(folder, name)
    }
  }
  return undefined
}

/** Artwork files for a movie or episode: `<name>-poster.jpg`, `poster.jpg` (own folder only), `<name>-thumb.jpg`... */
export async function itemArtwork (mediaPath: string, kind: 'movie' | 'episode' | 'extra'): Promise<LocalArtwork> {
  const folder = posix.dirname(mediaPath)
  const stem = posix.basename(mediaPath, posix.extname(mediaPath))
  const names = await listFolder(folder)
  const videos = names.filter(n => VIDEO_EXTENSIONS.has(posix.extname(n).toLowerCase())).length
  // folder-wide names belong to the movie only when it is alone in its folder
  const alone = videos <= 1
  if (kind === 'episode') return { still: pick(names, folder, [`${stem}-thumb`, stem]), seasons: new Map() }
  return {
    poster: pick(names, folder, [`${stem}-poster`, ...(alone ? ['poster', 'folder', 'cover', 'movie'] : [])]),
    backdrop: pick(names, folder, [`${stem}-fanart`, `${stem}-backdrop`, ...(alone ? ['fanart', 'backdrop', 'background'] : [])]),
    seasons: new Map()
  }
}

/** Artwork files of a series folder: poster, fanart and `seasonNN-poster.jpg` / `season-specials-poster.jpg`. */
export async function seriesArtwork (seriesFolder: string): Promise<LocalArtwork> {
  const names = await listFolder(seriesFolder)
  const seasons = new Map<number, string>()
  for (const name of names) {
    const match = /^season(\d{1,4}|-specials)-poster\.(?:jpe?g|png|webp|gif)$/i.exec(name)
    if (match != null) seasons.set(match[1].toLowerCase() === '-specials' ? 0 : Number(match[1]), posix.join(seriesFolder, name))
  }
  return {
    poster: pick(names, seriesFolder, ['poster', 'folder', 'cover']),
    backdrop: pick(names, seriesFolder, ['fanart', 'backdrop', 'background']),
    seasons
  }
}
