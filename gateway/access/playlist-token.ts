/*
 * A playlist requested with a stream token hands the token on to everything it names (variant playlists,
 * `#EXT-X-MAP:URI`, segments, any other `URI="..."` attribute), the way PeerTube re-injects its video file token:
 * hls.js then plays a signed URL with no custom loader and no headers. Only relative URIs get it; an absolute URI
 * points at another host, which must never see the token. A playlist served without a token is not touched.
 */

const URI_ATTRIBUTE = /\bURI="([^"]*)"/g
/** A scheme (`https:`, `data:`, `skd:`) or a network-path reference (`//host/...`): not ours to sign. */
const ABSOLUTE = /^(?:[A-Za-z][A-Za-z0-9+.-]*:|\/\/)/

/** `uri` with `token=<token>` added to its query, unless it points elsewhere. */
function withToken (uri: string, param: string): string {
  if (uri === '' || ABSOLUTE.test(uri)) return uri
  const hash = uri.indexOf('#')
  const path = hash < 0 ? uri : uri.slice(0, hash)
  const fragment = hash < 0 ? '' : uri.slice(hash)
  return `${path}${path.includes('?') ? '&' : '?'}${param}${fragment}`
}

/** `url` (absolute or relative) with the stream token in its query, unless its query already names one. */
export function urlWithToken (url: string, token: string): string {
  const query = /\?([^#]*)/.exec(url)?.[1] ?? ''
  if (query.split('&').some(pair => pair.startsWith('token='))) return url
  const hash = url.indexOf('#')
  const path = hash < 0 ? url : url.slice(0, hash)
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}${hash < 0 ? '' : url.slice(hash)}`
}

/** The playlist `text` with `token` carried into each child URI; line endings and every other byte stay as they were. */
export function carryToken (text: string, token: string): string {
  const param = `token=${encodeURIComponent(token)}`
  return text.split('\n').map(line => {
    const cr = line.endsWith('\r') ? '\r' : ''
    const body = cr === '' ? line : line.slice(0, -1)
    const trimmed = body.trim()
    if (trimmed === '') return line
    if (trimmed.startsWith('#')) {
      return trimmed.startsWith('#EXT') ? body.replace(URI_ATTRIBUTE, (_, uri: string) => `URI="${withToken(uri, param)}"`) + cr : line
    }
    const start = body.indexOf(trimmed)
    return body.slice(0, start) + withToken(trimmed, param) + body.slice(start + trimmed.length) + cr
  }).join('\n')
}
