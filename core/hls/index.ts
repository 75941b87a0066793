/*
 * core/hls: what both sides of `/media` agree on, light enough for a CDN node: the names in
 * `/media/{id}/{profile}/{file}` URLs (media ids, profile names, segment files) and the HLS playlist text with the
 * file names inside a rendition. The main server's media room (core/media) makes renditions and writes these
 * playlists; a node reads the same names without loading it. Other folders import this file only.
 */

export { checkMediaId, checkProfileName, checkRenditionFile, isMediaId, isProfileName, MEDIA_ID_CHARS, MEDIA_ID_PATTERN, PROFILE_NAME_PATTERN, segmentCount, segmentIndex } from './names.ts'
export { INIT_NAME, MASTER_NAME, masterPlaylist, masterProfiles, masterWithOnly, mediaPlaylist, PLAYLIST_NAME, segmentName } from './playlists.ts'
export type { PlaylistGrid, PlaylistVariant } from './playlists.ts'
