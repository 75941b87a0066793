/*
 * How ffprobe and ffmpeg may open a source file. ffmpeg picks a demuxer from the bytes, not from the name, and
 * some demuxers read other files: concat (an `ffconcat` list), hls and dash (playlists), image2 (a `%03d` pattern
 * of pictures), tty, lavfi and the device grabbers. A file named `.mp4` holding an ffconcat list was probed as media
 * and followed the (relative) paths inside it. Sources are containers that hold their media inside themselves: only
 * those demuxers are allowed, and only the `file` protocol, so anything else is refused before it is read further.
 */

/** The demuxers a source may be opened with (ffmpeg's names; a demuxer listed under several names matches by any). */
export const SOURCE_DEMUXERS: readonly string[] = Object.freeze([
  'mov', 'matroska', 'avi', 'mpegts', 'mpeg', 'asf', 'flv', 'ogg',
  'mp3', 'aac', 'ac3', 'eac3', 'dts', 'flac', 'wav', 'w64', 'aiff', 'caf', 'wv'
])

/** Input options for every ffprobe and ffmpeg run on a source, to go before its `-i`. */
export const SOURCE_INPUT_ARGS: readonly string[] = Object.freeze([
  '-protocol_whitelist', 'file', '-format_whitelist', SOURCE_DEMUXERS.join(',')
])

/** The demuxer ffmpeg refused as not allowed, from its stderr (`[concat @ 0x...] Format not on whitelist ...`). */
export function refusedDemuxer (stderr: string): string | undefined {
  return /^\[([\w,]+) @ 0x[0-9a-f]+\] Format not on whitelist/m.exec(stderr)?.[1]
}
