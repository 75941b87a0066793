/*
 * Plays an HLS title the way a player walks it, without decoding: the playlist, then every child it names (variant
 * playlists, `#EXT-X-MAP` init segments, media segments), resolved against it, depth first. Tests compare what two
 * servers answered, byte for byte.
 */

/** One answer of a walk. */
export interface WalkedFile {
  url: string
  status: number
  /** `X-Cidcast-Source` (`local`, `peer`, `origin`), when the server says. */
  source: string | null
  body: Buffer
}

/** The child URIs of a playlist: URI lines and `URI="..."` attributes. */
export function playlistChildren (text: string): string[] {
  return text.split('\n').flatMap(line => {
    if (line.startsWith('#')) return [...line.matchAll(/URI="([^"]*)"/g)].map(m => m[1])
    return line.trim() === '' ? [] : [line.trim()]
  })
}

/** GETs `url` and, for a playlist answered 200, every file it names. */
export async function walkHls (url: string): Promise<WalkedFile[]> {
  const res = await fetch(url)
  const body = Buffer.from(await res.arrayBuffer())
  const walked: WalkedFile[] = [{ url, status: res.status, source: res.headers.get('x-cidcast-source'), body }]
  if (res.status !== 200 || !new URL(url).pathname.endsWith('.m3u8')) return walked
  for (const child of playlistChildren(body.toString('utf8'))) walked.push(...await walkHls(new URL(child, url).href))
  return walked
}
