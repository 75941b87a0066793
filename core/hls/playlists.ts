/*
 * HLS playlist text and the file names inside a rendition, shared by the main server (which writes playlists and
 * rendition DAGs) and CDN nodes (which serve and cache them). The two playlist writers take only the fields they
 * print, so this room needs nothing of core/media: core/media's `SegmentGrid` and `RenditionPlan` fit as they are.
 */

/** What a media playlist lists: each segment's length in seconds, in order. */
export interface PlaylistGrid {
  readonly durations: readonly number[]
}

/** What a master playlist says of one rendition. */
export interface PlaylistVariant {
  readonly profile: { readonly name: string }
  /** Output picture size; a width of 0 (audio only) prints no RESOLUTION. */
  readonly width: number
  readonly height: number
  /** Bits/s. */
  readonly bandwidth: number
  /** RFC 6381 codecs string. */
  readonly codecs: string
}

/** File names inside a rendition, shared by playlists, routes and the rendition DAG. */
export const INIT_NAME = 'init.mp4'
export const PLAYLIST_NAME = 'index.m3u8'
export const MASTER_NAME = 'master.m3u8'

/** The name of segment `index` inside its rendition. */
export function segmentName (index: number): string {
  return `${index}.m4s`
}

/** A VOD media playlist listing every segment from the start, so players can seek anywhere at once. */
export function mediaPlaylist (grid: PlaylistGrid): string {
  const target = Math.max(1, ...grid.durations.map(d => Math.round(d)))
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${target}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-MAP:URI="${INIT_NAME}"`
  ]
  grid.durations.forEach((d, i) => { lines.push(`#EXTINF:${d.toFixed(6)},`, segmentName(i)) })
  lines.push('#EXT-X-ENDLIST', '')
  return lines.join('\n')
}

/** The master playlist: one variant per rendition, best first, each pointing at `<profile>/index.m3u8`. */
export function masterPlaylist (plans: readonly PlaylistVariant[]): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS']
  for (const plan of plans) {
    const attrs = [`BANDWIDTH=${plan.bandwidth}`, `CODECS="${plan.codecs}"`]
    if (plan.width > 0) attrs.push(`RESOLUTION=${plan.width}x${plan.height}`)
    attrs.push(`NAME="${plan.profile.name}"`)
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, `${plan.profile.name}/${PLAYLIST_NAME}`)
  }
  lines.push('')
  return lines.join('\n')
}

/** A variant's URI in the master playlists written here: `<profile>/index.m3u8`, with any query (a stream token). */
const VARIANT_URI = new RegExp(`^([^/?#]+)/${PLAYLIST_NAME.replace('.', '\\.')}(?:[?#].*)?$`)

/** A master playlist's variants: each `#EXT-X-STREAM-INF` line's index and the profile its `<profile>/index.m3u8` names. */
function variantsOf (lines: readonly string[]): Array<{ tag: number, uri: number, profile: string | undefined }> {
  const variants: Array<{ tag: number, uri: number, profile: string | undefined }> = []
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('#EXT-X-STREAM-INF:')) continue
    let uri = i + 1
    while (uri < lines.length && (lines[uri].trim() === '' || lines[uri].startsWith('#'))) uri++
    if (uri >= lines.length) break
    const profile = VARIANT_URI.exec(lines[uri].trim())?.[1]
    variants.push({ tag: i, uri, profile })
    i = uri
  }
  return variants
}

/** The profiles a master playlist lists, in its order. */
export function masterProfiles (text: string): string[] {
  return variantsOf(text.split('\n')).flatMap(v => v.profile == null ? [] : [v.profile])
}

/** A master playlist with only the variants of the profiles `keep` accepts; every other line as it was. */
export function masterWithOnly (text: string, keep: (profile: string) => boolean): string {
  const lines = text.split('\n')
  const dropped = new Set<number>()
  for (const v of variantsOf(lines)) {
    if (v.profile != null && keep(v.profile)) continue
    dropped.add(v.tag)
    dropped.add(v.uri)
  }
  return lines.filter((_, i) => !dropped.has(i)).join('\n')
}
