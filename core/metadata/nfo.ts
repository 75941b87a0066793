import { stat } from 'node:fs/promises'
import { posix } from 'node:path'
import { sanitizeInfo, sanitizeSeries } from './sanitize.ts'
import { openSidecar } from './sidecar-open.ts'
import { XmlParseError, child, childText, parseXml, serializeXml } from './xml.ts'
import type { DropHandler } from './sanitize.ts'
import type { ExternalIds, ItemInfo, SeasonInfo, SeriesInfo } from './types.ts'
import type { XmlElement } from './xml.ts'

/*
 * Kodi/Jellyfin NFO sidecars: `<file>.nfo` or `movie.nfo` with <movie>, `<file>.nfo` with <episodedetails>
 * (several of them for a multi-episode file), `tvshow.nfo` in the series folder with <tvshow>. Reading is
 * strict about safety (see xml.ts) and lenient about content: a bad field is dropped with a reason, the rest
 * is kept. Writing keeps every element it does not manage (actors, ratings...) as it was.
 */

/** Largest NFO file read, in bytes. */
export const MAX_NFO_BYTES = 1_048_576

export type NfoDocument =
  | { kind: 'movie', info: ItemInfo }
  | { kind: 'episode', info: ItemInfo }
  | { kind: 'tvshow', series: SeriesInfo }

/** The NFO could not be used; `message` says why (too big, not UTF-8, not XML, unsafe, unknown root). */
export class NfoError extends Error {
  override readonly name = 'NfoError'
}

function idsOf (root: XmlElement, kind: NfoDocument['kind']): ExternalIds {
  const ids: Partial<Record<keyof ExternalIds, string>> = {}
  for (const el of root.children) {
    const value = el.text.trim()
    if (value === '') continue
    if (el.name === 'uniqueid') {
      const type = (el.attributes.type ?? '').toLowerCase()
      if (type === 'imdb') ids.imdb ??= value
      else if (type === 'tmdb' || type === 'themoviedb') ids.tmdb ??= value
      else if (type === 'tvdb' || type === 'thetvdb') ids.tvdb ??= value
    } else if (el.name === 'imdbid' || el.name === 'imdb_id') {
      ids.imdb ??= value
    } else if (el.name === 'tmdbid') {
      ids.tmdb ??= value
    } else if (el.name === 'tvdbid') {
      ids.tvdb ??= value
    } else if (el.name === 'id') {
      // the old single <id>: an IMDb id when it looks like one, else TVDB for shows and TMDB for movies
      if (/^tt\d+$/.test(value)) ids.imdb ??= value
      else if (kind === 'movie') ids.tmdb ??= value
      else ids.tvdb ??= value
    }
  }
  return ids as unknown as ExternalIds
}

function dateOf (root: XmlElement, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = childText(root, name)
    if (value != null) return value
  }
  return undefined
}

function yearOf (root: XmlElement, date: string | undefined): unknown {
  return childText(root, 'year') ?? (date != null && /^\d{4}/.test(date) ? date.slice(0, 4) : undefined)
}

/** Remote artwork named in the file: posters, fanart, episode thumbs (local file names are not URLs). */
function images (root: XmlElement): { poster?: string, landscape?: string, fanart?: string, seasons: Map<number, string> } {
  const out: { poster?: string, landscape?: string, fanart?: string, seasons: Map<number, string> } = { seasons: new Map() }
  for (const thumb of root.children.filter(c => c.name === 'thumb')) {
    const url = thumb.text.trim()
    if (!/^https?:\/\//i.test(url)) continue
    const aspect = (thumb.attributes.aspect ?? '').toLowerCase()
    if (thumb.attributes.type === 'season') {
      const season = Number(thumb.attributes.season)
      if (Number.isInteger(season) && season >= 0 && aspect !== 'landscape' && aspect !== 'banner') {
        if (!out.seasons.has(season)) out.seasons.set(season, url)
      }
    } else if (aspect === '' || aspect === 'poster') {
      out.poster ??= url
    } else if (aspect === 'landscape' || aspect === 'thumb') {
      out.landscape ??= url
    }
  }
  const fanart = child(root, 'fanart')
  const first = fanart?.children.find(c => c.name === 'thumb' && /^https?:\/\//i.test(c.text.trim()))
  if (first != null) out.fanart = first.text.trim()
  return out
}

function movieInfo (root: XmlElement): ItemInfo {
  const releaseDate = dateOf(root, 'premiered', 'releasedate')
  const art = images(root)
  const set = child(root, 'set')
  const info: ItemInfo = {
    kind: 'movie',
    title: childText(root, 'title'),
    originalTitle: childText(root, 'originaltitle'),
    sortTitle: childText(root, 'sorttitle'),
    year: yearOf(root, releaseDate) as number | undefined,
    releaseDate,
    overview: childText(root, 'plot') ?? childText(root, 'outline'),
    tagline: childText(root, 'tagline'),
    ids: idsOf(root, 'movie'),
    posterUrl: art.poster,
    backdropUrl: art.fanart ?? art.landscape
  }
  if (set != null) {
    const name = set.children.length > 0 ? childText(set, 'name') : set.text.trim()
    if (name != null && name !== '') {
      const colid = set.attributes.tmdbcolid
      info.collection = { title: name, overview: childText(set, 'overview'), ids: colid == null ? {} : { tmdb: colid as unknown as number } }
    }
  }
  return info
}

function episodeInfo (roots: XmlElement[]): ItemInfo {
  const root = roots[0]
  const aired = dateOf(root, 'aired', 'premiered')
  const art = images(root)
  const info: ItemInfo = {
    kind: 'episode',
    title: childText(root, 'title'),
    originalTitle: childText(root, 'originaltitle'),
    year: yearOf(root, aired) as number | undefined,
    releaseDate: aired,
    overview: childText(root, 'plot') ?? childText(root, 'outline'),
    ids: idsOf(root, 'episode'),
    stillUrl: art.poster ?? art.landscape,
    season: childText(root, 'season') as unknown as number,
    episode: childText(root, 'episode') as unknown as number
  }
  const showTitle = childText(root, 'showtitle')
  if (showTitle != null) info.series = { title: showTitle, ids: {} }
  if (roots.length > 1) {
    const last = childText(roots[roots.length - 1], 'episode')
    if (last != null) info.episodeEnd = last as unknown as number
  }
  return info
}

function seriesInfo (root: XmlElement): SeriesInfo {
  const premiered = dateOf(root, 'premiered')
  const art = images(root)
  const names = new Map<number, string>()
  for (const el of root.children.filter(c => c.name === 'namedseason')) {
    const n = Number(el.attributes.number)
    if (Number.isInteger(n) && el.text.trim() !== '') names.set(n, el.text.trim())
  }
  const numbers = [...new Set([...art.seasons.keys(), ...names.keys()])].sort((a, b) => a - b)
  const seasons: SeasonInfo[] = numbers.map(number => ({ number, title: names.get(number), posterUrl: art.seasons.get(number) }))
  return {
    title: childText(root, 'title'),
    originalTitle: childText(root, 'originaltitle'),
    year: yearOf(root, premiered) as number | undefined,
    overview: childText(root, 'plot') ?? childText(root, 'outline'),
    ids: idsOf(root, 'tvshow'),
    posterUrl: art.poster,
    backdropUrl: art.fanart ?? art.landscape,
    seasons
  }
}

/** Reads an NFO document's text; bad fields are dropped through `drop`, an unusable document throws NfoError. */
export function parseNfo (text: string, drop: DropHandler = () => {}): NfoDocument {
  let roots: XmlElement[]
  try {
    roots = parseXml(text, { maxChars: MAX_NFO_BYTES })
  } catch (err) {
    if (err instanceof XmlParseError) throw new NfoError(`not usable XML: ${err.message}`)
    throw err
  }
  const root = roots[0]
  switch (root.name) {
    case 'movie': return { kind: 'movie', info: sanitizeInfo(movieInfo(root), drop) }
    case 'episodedetails': return { kind: 'episode', info: sanitizeInfo(episodeInfo(roots.filter(r => r.name === 'episodedetails')), drop) }
    case 'tvshow': return { kind: 'tvshow', series: sanitizeSeries(seriesInfo(root), drop) }
    default: throw new NfoError(`unknown root element <${root.name}>`)
  }
}

/** Decodes NFO bytes: UTF-8 (with or without BOM) or UTF-16 with a BOM; invalid UTF-8 is refused. */
export function decodeNfo (bytes: Uint8Array): string {
  try {
    if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le', { fatal: true }).decode(bytes.subarray(2))
    if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be', { fatal: true }).decode(bytes.subarray(2))
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch {
    throw new NfoError('not valid UTF-8 (or UTF-16 with a byte order mark)')
  }
}

/** Reads and parses the NFO at `path`; undefined when there is no such file. Throws NfoError when unusable. */
export async function readNfoFile (path: string, drop?: DropHandler): Promise<NfoDocument | undefined> {
  const handle = await openSidecar(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined
    throw new NfoError(`cannot open: ${err.code ?? err.message}`)
  })
  if (handle == null) return undefined
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw new NfoError('not a regular file')
    if (info.size > MAX_NFO_BYTES) throw new NfoError(`larger than ${MAX_NFO_BYTES} bytes (${info.size})`)
    const buffer = Buffer.alloc(info.size)
    const { bytesRead } = await handle.read(buffer, 0, info.size, 0)
    return parseNfo(decodeNfo(buffer.subarray(0, bytesRead)), drop)
  } finally {
    await handle.close()
  }
}

/** Where a media file's own NFO lives: `<file>.nfo` (a movie may also use `movie.nfo`). */
export function itemNfoPaths (mediaPath: string, kind: 'movie' | 'episode' | 'extra'): string[] {
  const dir = posix.dirname(mediaPath)
  const ext = posix.extname(mediaPath)
  const own = posix.join(dir, `${posix.basename(mediaPath, ext)}.nfo`)
  return kind === 'movie' ? [own, posix.join(dir, 'movie.nfo')] : [own]
}

/** Where a series' NFO lives. */
export function seriesNfoPath (seriesFolder: string): string {
  return posix.join(seriesFolder, 'tvshow.nfo')
}

function element (name: string, text: string, attributes: Record<string, string> = {}): XmlElement {
  return { name, attributes, children: [], text }
}

const MANAGED = new Set(['title', 'originaltitle', 'sorttitle', 'year', 'premiered', 'aired', 'releasedate', 'plot', 'tagline', 'uniqueid', 'id', 'imdbid', 'tmdbid', 'tvdbid', 'season', 'episode', 'set', 'showtitle'])

function uniqueIds (ids: ExternalIds): XmlElement[] {
  const out: XmlElement[] = []
  let first = true
  for (const type of ['tmdb', 'imdb', 'tvdb'] as const) {
    const value = ids[type]
    if (value == null) continue
    out.push(element('uniqueid', String(value), first ? { type, default: 'true' } : { type }))
    first = false
  }
  return out
}

/** The managed elements of an item, in Kodi's usual order. */
function itemElements (kind: 'movie' | 'episode', info: ItemInfo, seriesTitle?: string): XmlElement[] {
  const out: XmlElement[] = []
  if (info.title != null) out.push(element('title', info.title))
  if (info.originalTitle != null) out.push(element('originaltitle', info.originalTitle))
  if (kind === 'movie' && info.sortTitle != null) out.push(element('sorttitle', info.sortTitle))
  if (kind === 'episode' && seriesTitle != null) out.push(element('showtitle', seriesTitle))
  if (kind === 'episode' && info.season != null) out.push(element('season', String(info.season)))
  if (kind === 'episode' && info.episode != null) out.push(element('episode', String(info.episode)))
  if (info.year != null) out.push(element('year', String(info.year)))
  if (info.releaseDate != null) out.push(element(kind === 'episode' ? 'aired' : 'premiered', info.releaseDate))
  if (info.overview != null) out.push(element('plot', info.overview))
  if (kind === 'movie' && info.tagline != null) out.push(element('tagline', info.tagline))
  out.push(...uniqueIds(info.ids))
  if (kind === 'movie' && info.collection?.title != null) {
    const set = element('set', '')
    set.children.push(element('name', info.collection.title))
    if (info.collection.overview != null) set.children.push(element('overview', info.collection.overview))
    out.push(set)
  }
  return out
}

/**
 * An NFO document for an item: the managed elements from `info`, then every other element of `existing`
 * (the file's current text, if any) unchanged. Throws NfoError when `existing` is not usable XML, so a file
 * we cannot read is never overwritten.
 */
export function buildItemNfo (kind: 'movie' | 'episode', info: ItemInfo, existing?: string, seriesTitle?: string): string {
  const rootName = kind === 'movie' ? 'movie' : 'episodedetails'
  let roots: XmlElement[] = []
  if (existing != null && existing.trim() !== '') {
    try {
      roots = parseXml(existing, { maxChars: MAX_NFO_BYTES })
    } catch (err) {
      throw new NfoError(`the existing file is not usable XML (${(err as Error).message}); not overwriting it`)
    }
    if (roots[0].name !== rootName) throw new NfoError(`the existing file has <${roots[0].name}>, not <${rootName}>; not overwriting it`)
  }
  const kept = roots[0]?.children.filter(c => !MANAGED.has(c.name)) ?? []
  const root: XmlElement = { name: rootName, attributes: roots[0]?.attributes ?? {}, children: [...itemElements(kind, info, seriesTitle), ...kept], text: '' }
  const rest = roots.slice(1)
  return ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', serializeXml(root), ...rest.map(r => serializeXml(r))].join('\n') + '\n'
}

/** Whether a regular file exists at `path`. */
export async function isFile (path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true
}
