import { MediaNotFoundError, ProfileNotFoundError, SegmentNotFoundError } from '../errors.ts'
import { INIT_NAME } from './playlists.ts'

/*
 * The names in `/media/{id}/{profile}/{file}` URLs, one definition for the main server, the CDN nodes and the
 * node's media cache (which makes file names of ids): media ids, profile names and the files of a rendition.
 */

/** A media id: the first 16 hex digits of sha256(source CID) (core/media's `mediaId`), as a pattern to embed. */
export const MEDIA_ID_CHARS = '[0-9a-f]{16}'
export const MEDIA_ID_PATTERN = new RegExp(`^${MEDIA_ID_CHARS}$`)
/**
 * Every profile name core/media's `planLadder` can give: `<short side>p` for any even short side from 2 (a source
 * below the lowest rung gets one rung of its own size, so a 160x90 source has `90p` and a 2x2 one `2p`), and `audio`.
 * The one pattern URLs are checked against, on the main server and on CDN nodes.
 */
export const PROFILE_NAME_PATTERN = /^(?:[1-9]\d{0,3}p|audio)$/
/** `{n}.m4s` as playlists spell it: no leading zeros, at most 7 digits. */
const SEGMENT_FILE = /^(0|[1-9]\d{0,6})\.m4s$/

/** True when `id` is shaped like a media id. */
export function isMediaId (id: unknown): boolean {
  return typeof id === 'string' && MEDIA_ID_PATTERN.test(id)
}

/** True when `name` is shaped like a profile name (used to reject junk before any lookup). */
export function isProfileName (name: string): boolean {
  return PROFILE_NAME_PATTERN.test(name)
}

/** The segment number a file name stands for (`12.m4s` -> 12), or undefined. */
export function segmentIndex (file: string): number | undefined {
  const match = SEGMENT_FILE.exec(file)
  return match == null ? undefined : Number(match[1])
}

/** How many segments a media playlist lists: one more than the highest segment number among its URIs (0 for none). */
export function segmentCount (text: string): number {
  let count = 0
  for (const line of text.split('\n')) {
    const uri = line.trim()
    if (uri === '' || uri.startsWith('#')) continue
    const index = segmentIndex(uri.replace(/[?#].*$/, ''))
    if (index != null) count = Math.max(count, index + 1)
  }
  return count
}

/** Throws MediaNotFoundError unless `id` is shaped like a media id; checked before anything is asked of anyone. */
export function checkMediaId (id: string): string {
  if (!isMediaId(id)) throw new MediaNotFoundError(`no media ${JSON.stringify(String(id).slice(0, 64))}`)
  return id
}

/** Throws ProfileNotFoundError unless `profile` is shaped like a profile name. */
export function checkProfileName (profile: string): string {
  if (!isProfileName(profile)) throw new ProfileNotFoundError(`unknown profile ${JSON.stringify(profile.slice(0, 64))}`)
  return profile
}

/** Throws SegmentNotFoundError unless `file` is a rendition's init segment or a media segment. */
export function checkRenditionFile (file: string): string {
  if (file !== INIT_NAME && segmentIndex(file) == null) throw new SegmentNotFoundError(`no segment ${JSON.stringify(file.slice(0, 64))}`)
  return file
}
