import { fieldsOf } from './apply.ts'
import type { ImageStore } from './image-store.ts'
import type { MediaRecord, MetadataRepository, StoredMetadata } from '../catalog/index.ts'
import type { MediaKind } from './types.ts'
import type { Logger } from '../logger.ts'
import type { PosterFrames } from '../media/index.ts'

/*
 * Artwork from the video itself, as Jellyfin and Plex make it: a media that identification left without a
 * poster (an episode: without a still) gets a frame of its video instead. The frame is taken once per source
 * (the `images` table remembers it by the source's CID, so a restart or another identification looks it up
 * instead of running ffmpeg again), stored in IPFS like other artwork and saved with the actor `frame`.
 * Identification knows the frame's CID, so a poster from any source replaces it later (apply.ts).
 */

export interface FrameArtworkComponents {
  log: Logger
  store: MetadataRepository
  images: ImageStore
  frames: PosterFrames
}

export interface FrameArtwork {
  /** The CID of the frame stored for the media, if one was ever taken. */
  known: (media: MediaRecord) => Promise<string | undefined>
  /** Whether the media has a picture and its stored metadata lacks the artwork a frame stands in for. */
  wanted: (media: MediaRecord) => Promise<boolean>
  /** Takes the frame (or finds the one taken before) and saves it; `serial` orders the save after other work on the media. */
  apply: (media: MediaRecord, options: { signal?: AbortSignal, serial: <T>(mediaId: string, fn: () => Promise<T>) => Promise<T> }) => Promise<void>
}

/** The artwork field a frame stands in for: an episode's still, anything else's poster. */
export function frameField (kind: MediaKind): 'poster' | 'still' {
  return kind === 'episode' ? 'still' : 'poster'
}

/** The field a frame would fill for `stored`, or undefined when it has artwork there or a user locked it. */
function missing (stored: StoredMetadata | undefined): 'poster' | 'still' | undefined {
  if (stored == null) return undefined
  const field = frameField(stored.kind)
  return stored[field] == null && !stored.locked.includes(field) ? field : undefined
}

/** Creates the frame artwork step of the metadata service. */
export function createFrameArtwork (components: FrameArtworkComponents): FrameArtwork {
  const { log, store, images, frames } = components
  const keyOf = (media: MediaRecord): string => `frame:${media.sourceCid}#${frames.settings}`

  return {
    async known (media) {
      return frames.hasPicture(media) ? await images.known(keyOf(media)) : undefined
    },

    async wanted (media) {
      return frames.hasPicture(media) && missing(await store.get(media.id)) != null
    },

    async apply (media, options) {
      if (!frames.hasPicture(media) || missing(await store.get(media.id)) == null) return
      const started = Date.now()
      // ffmpeg runs outside the media's queue, so edits are not held up by it; the save waits its turn
      const cid = await images.made(keyOf(media), async () => await frames.take(media, { signal: options.signal }))
      if (cid == null) return
      await options.serial(media.id, async () => {
        const stored = await store.get(media.id)
        const field = missing(stored)
        if (stored == null || field == null) return
        await store.save(media.id, { ...fieldsOf(stored), [field]: cid }, { folder: stored.folder, source: stored.source }, { actor: 'frame', action: 'identify' })
        log.info({ mediaId: media.id, field, cid, ms: Date.now() - started }, 'artwork taken from the video')
      })
    }
  }
}
