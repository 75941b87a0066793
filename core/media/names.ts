import { MediaNotFoundError, ProfileNotFoundError, SegmentNotFoundError } from '../errors.ts'
import { INIT_NAME } from './playlists.ts'
import { isProfileName } from './profiles.ts'

/*
 * The names in `/media/{id}/{profile}/{file}` URLs, one definition for the main server, the CDN nodes and the
 * node's media cache (which makes file names of ids): media ids, profile names and the files of a rendition.
 * Light on purpose: a CDN node imports it without the library (and so without the catalog).
 */

/** A media id: the first 16 hex digits of sha256(source CID) (library.ts `mediaId`), as a pattern to embed. */
export const MEDIA_ID_CHARS = '[0-9a-f]{16}'
export const MEDIA_ID_PATTERN = new RegExp(`^${MEDIA_ID_CHARS}$`)
/** `{n}.m4s` as playlists spell it: no leading zeros, at most 7 digits. */
const SEGMENT_FILE = /^(0|[1-9]\d{0,6})\.m4s$/

/** True when `id` is shaped like a media id. */
export function isMediaId (id: unknown): boolean {
  return typeof id === 'string' && MEDIA_ID_PATTERN.test(id)
}

/** The segment number a file name stands for (`12.m4s` -> 12), or undefined. */
export function segmentIndex (file: string): number | undefined {
  const match = SEGMENT_FILE.exec(file)
  return match == null ? undefined : Number(match[1])
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
