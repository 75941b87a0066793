import { extname } from 'node:path'
import { InvalidRequestError, NotAcceptableError, RangeNotSatisfiableError } from '../../core/errors.ts'
import type { DagScope, DirectoryEntry, EntityBytes } from '../../core/ipfs/index.ts'

/** HTTP details of the /ipfs gateway: content negotiation, ranges, Etags, content types, listings. */

export const MEDIA_RAW = 'application/vnd.ipld.raw'
export const MEDIA_CAR = 'application/vnd.ipld.car'
export const IMMUTABLE_CACHE = 'public, max-age=29030400, immutable'

export type ResponseFormat =
  | { kind: 'deserialized' }
  | { kind: 'raw' }
  | { kind: 'car', duplicates: boolean }

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.m4a': 'audio/mp4',
  '.m4v': 'video/mp4',
  '.ts': 'video/mp2t',
  '.aac': 'audio/aac',
  '.vtt': 'text/vtt; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.nfo': 'text/xml; charset=utf-8',
  '.xml': 'text/xml; charset=utf-8'
}

/** The Content-Type for a file name, by extension; application/octet-stream when unknown. */
export function contentTypeFor (name: string): string {
  return CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream'
}

interface MediaRange {
  type: string
  params: Record<string, string>
  q: number
}

function parseAccept (header: string): MediaRange[] {
  const ranges: MediaRange[] = []
  for (const part of header.split(',')) {
    const [type, ...rest] = part.split(';').map(s => s.trim())
    if (type === '') continue
    const params: Record<string, string> = {}
    for (const p of rest) {
      const eq = p.indexOf('=')
      if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"|"$/g, '')
    }
    const q = params.q == null ? 1 : Number(params.q)
    ranges.push({ type: type.toLowerCase(), params, q: Number.isFinite(q) ? q : 0 })
  }
  // stable sort: equal weights keep the client's order
  return ranges.filter(r => r.q > 0).sort((a, b) => b.q - a.q)
}

/** CAR variants this gateway writes: CARv1, depth-first, with or without duplicates. Undefined if not one. */
function carVariant (params: Record<string, string | undefined>): { duplicates: boolean } | undefined {
  const { version, order, dups } = params
  if (version != null && version !== '1') return undefined
  if (order != null && order !== 'dfs' && order !== 'unk') return undefined
  if (dups != null && dups !== 'y' && dups !== 'n') return undefined
  return { duplicates: dups === 'y' }
}

/** IPLD-specific types we do not produce: asking only for them is a 406, not a deserialized answer. */
function isIpldOnly (type: string): boolean {
  return type.startsWith('application/vnd.ipld.') || type.startsWith('application/vnd.ipfs.') ||
    type === 'application/x-tar' || type === 'application/cbor'
}

/** Picks the response format from `?format=` (which wins) and `Accept`, per the trustless gateway spec. */
export function negotiate (query: Record<string, string | string[] | undefined>, accept: string | undefined): ResponseFormat {
  const format = single(query, 'format')
  const accepted = parseAccept(accept ?? '')
  const carQuery = { version: single(query, 'car-version'), order: single(query, 'car-order'), dups: single(query, 'car-dups') }
  if (format != null && format !== '') {
    if (format === 'raw') return { kind: 'raw' }
    if (format === 'car') {
      const fromAccept = accepted.find(r => r.type === MEDIA_CAR)?.params ?? {}
      const variant = carVariant({ ...fromAccept, ...definedOnly(carQuery) })
      if (variant == null) throw new NotAcceptableError('only CARv1 with order=dfs and dups=y|n is served')
      return { kind: 'car', ...variant }
    }
    throw new InvalidRequestError(`unsupported format ${JSON.stringify(format)}: use raw or car`)
  }
  if (accepted.length === 0) return { kind: 'deserialized' }
  for (const range of accepted) {
    if (range.type === MEDIA_RAW) return { kind: 'raw' }
    if (range.type === MEDIA_CAR) {
      const variant = carVariant({ ...range.params, ...definedOnly(carQuery) })
      if (variant != null) return { kind: 'car', ...variant }
      continue
    }
    if (!isIpldOnly(range.type)) return { kind: 'deserialized' }
  }
  throw new NotAcceptableError(`none of the accepted types can be served: ${accept ?? ''}`)
}

/** `dag-scope` and `entity-bytes` of a CAR request; entity-bytes implies `entity`. */
export function carScope (query: Record<string, string | string[] | undefined>): { scope: DagScope, entityBytes?: EntityBytes } {
  const scope = single(query, 'dag-scope') ?? 'all'
  if (scope !== 'all' && scope !== 'entity' && scope !== 'block') throw new InvalidRequestError(`invalid dag-scope ${JSON.stringify(scope)}`)
  const bytes = single(query, 'entity-bytes')
  if (bytes == null) return { scope }
  const match = /^(-?\d+):(-?\d+|\*)$/.exec(bytes)
  if (match == null) throw new InvalidRequestError(`invalid entity-bytes ${JSON.stringify(bytes)}`)
  return { scope: 'entity', entityBytes: { from: Number(match[1]), to: match[2] === '*' ? '*' : Number(match[2]) } }
}

/**
 * The [start, end) of a single `bytes=` range over `size` bytes; undefined when there is no usable Range
 * (absent, malformed or several ranges: the whole body is sent); RangeNotSatisfiableError when it misses.
 */
export function parseRange (header: string | undefined, size: number): { start: number, end: number } | undefined {
  if (header == null) return undefined
  const match = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header.trim())
  if (match == null || (match[1] === '' && match[2] === '')) return undefined
  if (match[1] === '') {
    const suffix = Number(match[2])
    if (suffix === 0 || size === 0) throw new RangeNotSatisfiableError(`range ${header} not satisfiable (${size} bytes)`)
    return { start: Math.max(size - suffix, 0), end: size }
  }
  const start = Number(match[1])
  const last = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1)
  if (start >= size) throw new RangeNotSatisfiableError(`range ${header} not satisfiable (${size} bytes)`)
  if (last < start) return undefined
  return { start, end: last + 1 }
}

/** Whether an If-None-Match header matches `etag` (weak comparison, as RFC 9110 asks for this header). */
export function etagMatches (ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch == null) return false
  const bare = etag.replace(/^W\//, '')
  return ifNoneMatch.split(',').some(tag => {
    const t = tag.trim()
    return t === '*' || t.replace(/^W\//, '') === bare
  })
}

/** A Content-Disposition value with an ASCII fallback and the RFC 8187 UTF-8 name. */
export function contentDisposition (kind: 'inline' | 'attachment', filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, c => HTML_ESCAPES[c])
}

/** A small HTML index of a directory; names are escaped and links are relative to the directory. */
export function directoryListing (path: string, cid: string, entries: DirectoryEntry[]): string {
  const rows = entries.map(e => {
    const href = encodeURIComponent(e.name)
    return `<tr><td><a href="./${href}">${escapeHtml(e.name)}</a></td><td>${e.size}</td><td><code>${escapeHtml(e.cid.toString())}</code></td></tr>`
  })
  return '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>' + escapeHtml(path) + '</title></head><body>' +
    `<h1>Index of ${escapeHtml(path)}</h1><p><code>${escapeHtml(cid)}</code></p>` +
    '<table><thead><tr><th>Name</th><th>Size</th><th>CID</th></tr></thead><tbody>' +
    (path.split('/').filter(Boolean).length > 2 ? '<tr><td><a href="../">..</a></td><td></td><td></td></tr>' : '') +
    rows.join('') + '</tbody></table></body></html>\n'
}

/** A query parameter given at most once: twice is ambiguous (which format, which range?), a 400. */
function single (query: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = query[name]
  if (Array.isArray(value)) throw new InvalidRequestError(`${name} may be given once`)
  return value
}

function definedOnly (params: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] != null))
}
