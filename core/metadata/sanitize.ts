import type { CollectionInfo, ExternalIds, ItemInfo, SeasonInfo, SeriesInfo } from './types.ts'

/*
 * One gate for every value that enters the catalog from outside (file names, NFO files, provider answers, user
 * edits): text is made well-formed, stripped of control characters and bounded; numbers are whole and in range.
 * A value that fails is dropped (or, for an edit, refused) with a reason a log line or an error can carry.
 */

/** Longest accepted title, in characters. */
export const MAX_TITLE_CHARS = 400
/** Longest accepted overview (plot), in characters. */
export const MAX_OVERVIEW_CHARS = 20_000
/** The first year of cinema, give or take: anything earlier is garbage. */
export const MIN_YEAR = 1870
/** Years further ahead than this are garbage too (announced titles are fine). */
export const MAX_YEARS_AHEAD = 10
/** Highest season and episode numbers accepted (anime counts episodes absolutely). */
export const MAX_SEASON = 3000
export const MAX_EPISODE = 100_000
const MAX_URL_CHARS = 2048
/** Largest id kept in an `integer` column on both SQLite and PostgreSQL. */
const MAX_INT_ID = 2_147_483_647

export type Checked<T> = { ok: true, value: T } | { ok: false, reason: string }

const ok = <T>(value: T): Checked<T> => ({ ok: true, value })
const bad = <T>(reason: string): Checked<T> => ({ ok: false, reason })

// eslint-disable-next-line no-control-regex -- control characters are what this removes
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\u2028\u2029\ufeff]/g
/*
 * Invisible format characters that reorder or hide text: bidi embeddings, overrides and isolates (U+202A-U+202E,
 * U+2066-U+2069), the LRM, RLM and ALM marks (U+200E, U+200F, U+061C), the word joiner and invisible operators
 * (U+2060-U+2064), the deprecated shaping and mirroring controls (U+206A-U+206F), the Mongolian vowel separator
 * (U+180E) and interlinear annotation marks (U+FFF9-U+FFFB). A title holding U+202E shows its letters in another
 * order than they are stored, so one entry of a list can pass for another. ZWNJ and ZWJ (U+200C, U+200D) stay:
 * Persian and Indic words and emoji sequences need them.
 */
const INVISIBLE_FORMAT = /[\u061c\u180e\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufff9-\ufffb]/g

/** `value` without the invisible format characters that reorder or hide text (bidi controls and their kin). */
export function stripInvisibleFormat (value: string): string {
  return value.replace(INVISIBLE_FORMAT, '')
}

/** Text made safe to keep: well-formed UTF-16, NFC, no control or bidi characters; `multiline` keeps line breaks. */
export function cleanText (value: string, multiline = false): string {
  let text = stripInvisibleFormat(value.toWellFormed().normalize('NFC').replace(CONTROL, ''))
  text = multiline
    ? text.replace(/\r\n?/g, '\n').replace(/[ \t]+/g, ' ').replace(/\n{3,}/g, '\n\n')
    : text.replace(/\s+/g, ' ')
  return text.trim()
}

function text (value: unknown, what: string, max: number, multiline: boolean): Checked<string> {
  if (typeof value !== 'string') return bad(`${what} is not text`)
  if (value.includes('\ufffd')) return bad(`${what} is not valid UTF-8`)
  const cleaned = cleanText(value, multiline)
  if (cleaned === '') return bad(`${what} is empty`)
  if (cleaned.length > max) return bad(`${what} is longer than ${max} characters (${cleaned.length})`)
  return ok(cleaned)
}

/** A title: one line, 1 to MAX_TITLE_CHARS characters. */
export function checkTitle (value: unknown, what = 'title'): Checked<string> {
  return text(value, what, MAX_TITLE_CHARS, false)
}

/** An overview (plot): paragraphs kept, at most MAX_OVERVIEW_CHARS characters. */
export function checkOverview (value: unknown, what = 'overview'): Checked<string> {
  return text(value, what, MAX_OVERVIEW_CHARS, true)
}

function wholeNumber (value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\s*\d{1,12}\s*$/.test(value) ? Number(value) : value
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined
}

/** A year between MIN_YEAR and MAX_YEARS_AHEAD years from now. */
export function checkYear (value: unknown, now = new Date()): Checked<number> {
  const n = wholeNumber(value)
  const max = now.getUTCFullYear() + MAX_YEARS_AHEAD
  if (n == null || n < MIN_YEAR || n > max) return bad(`year must be a whole number from ${MIN_YEAR} to ${max}, got ${JSON.stringify(String(value)).slice(0, 40)}`)
  return ok(n)
}

/** A season number, 0 (specials) to MAX_SEASON. */
export function checkSeason (value: unknown): Checked<number> {
  const n = wholeNumber(value)
  if (n == null || n < 0 || n > MAX_SEASON) return bad(`season must be a whole number from 0 to ${MAX_SEASON}`)
  return ok(n)
}

/** An episode number, 0 to MAX_EPISODE. */
export function checkEpisode (value: unknown): Checked<number> {
  const n = wholeNumber(value)
  if (n == null || n < 0 || n > MAX_EPISODE) return bad(`episode must be a whole number from 0 to ${MAX_EPISODE}`)
  return ok(n)
}

/** An IMDb id: `tt` and 7 to 10 digits. */
export function checkImdbId (value: unknown): Checked<string> {
  if (typeof value !== 'string' || !/^tt\d{7,10}$/.test(value.trim())) return bad('imdb id must look like tt0133093')
  return ok(value.trim())
}

/** A TMDB or TVDB id: a whole number from 1 that fits a 32-bit column. */
export function checkNumericId (value: unknown, what = 'id'): Checked<number> {
  const n = wholeNumber(value)
  if (n == null || n < 1 || n > MAX_INT_ID) return bad(`${what} must be a whole number from 1 to ${MAX_INT_ID}`)
  return ok(n)
}

/** A calendar date `YYYY-MM-DD` whose year passes checkYear. */
export function checkDate (value: unknown): Checked<string> {
  if (typeof value !== 'string') return bad('date is not text')
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(value.trim())
  if (match == null) return bad('date must be YYYY-MM-DD')
  const date = new Date(`${match[1]}-${match[2]}-${match[3]}T00:00:00Z`)
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== match[0]) return bad('date is not a calendar date')
  const year = checkYear(Number(match[1]))
  return year.ok ? ok(match[0]) : bad(year.reason)
}

/** An absolute http(s) URL of reasonable length (whether it may be fetched is the image fetcher's call). */
export function checkUrl (value: unknown): Checked<string> {
  if (typeof value !== 'string' || value.length > MAX_URL_CHARS) return bad('url is not text of at most 2048 characters')
  try {
    const url = new URL(value)
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return bad(`url scheme ${url.protocol} is not http(s)`)
    return ok(url.toString())
  } catch {
    return bad('url does not parse')
  }
}

/** Called with each dropped field and why. */
export type DropHandler = (field: string, reason: string) => void

function keep<T> (field: string, value: unknown, check: (v: unknown) => Checked<T>, drop: DropHandler): T | undefined {
  if (value === undefined || value === null || value === '') return undefined
  const checked = check(value)
  if (checked.ok) return checked.value
  drop(field, checked.reason)
  return undefined
}

/** External ids with every bad one dropped. */
export function sanitizeIds (ids: Partial<Record<keyof ExternalIds, unknown>> | undefined, drop: DropHandler, prefix = 'ids'): ExternalIds {
  const out: ExternalIds = {}
  const imdb = keep(`${prefix}.imdb`, ids?.imdb, checkImdbId, drop)
  const tmdb = keep(`${prefix}.tmdb`, ids?.tmdb, v => checkNumericId(v, 'tmdb id'), drop)
  const tvdb = keep(`${prefix}.tvdb`, ids?.tvdb, v => checkNumericId(v, 'tvdb id'), drop)
  if (imdb != null) out.imdb = imdb
  if (tmdb != null) out.tmdb = tmdb
  if (tvdb != null) out.tvdb = tvdb
  return out
}

function defined<T extends object> (value: T): T {
  for (const key of Object.keys(value) as Array<keyof T>) if (value[key] === undefined) delete value[key]
  return value
}

function sanitizeSeason (season: SeasonInfo, drop: DropHandler, prefix: string): SeasonInfo | undefined {
  const number = keep(`${prefix}.number`, season.number, checkSeason, drop)
  if (number == null) return undefined
  return defined({
    number,
    title: keep(`${prefix}.title`, season.title, checkTitle, drop),
    overview: keep(`${prefix}.overview`, season.overview, checkOverview, drop),
    posterUrl: keep(`${prefix}.posterUrl`, season.posterUrl, checkUrl, drop)
  })
}

/** A series description with every bad field dropped. */
export function sanitizeSeries (series: SeriesInfo, drop: DropHandler, prefix = 'series'): SeriesInfo {
  const seasons = Array.isArray(series.seasons)
    ? series.seasons.slice(0, 500).map((s, i) => sanitizeSeason(s, drop, `${prefix}.seasons[${i}]`)).filter(s => s != null)
    : undefined
  return defined({
    title: keep(`${prefix}.title`, series.title, checkTitle, drop),
    originalTitle: keep(`${prefix}.originalTitle`, series.originalTitle, checkTitle, drop),
    year: keep(`${prefix}.year`, series.year, v => checkYear(v), drop),
    overview: keep(`${prefix}.overview`, series.overview, checkOverview, drop),
    ids: sanitizeIds(series.ids, drop, `${prefix}.ids`),
    posterUrl: keep(`${prefix}.posterUrl`, series.posterUrl, checkUrl, drop),
    backdropUrl: keep(`${prefix}.backdropUrl`, series.backdropUrl, checkUrl, drop),
    seasons
  })
}

function sanitizeCollection (collection: CollectionInfo, drop: DropHandler): CollectionInfo {
  return defined({
    title: keep('collection.title', collection.title, checkTitle, drop),
    overview: keep('collection.overview', collection.overview, checkOverview, drop),
    ids: sanitizeIds(collection.ids, drop, 'collection.ids'),
    posterUrl: keep('collection.posterUrl', collection.posterUrl, checkUrl, drop),
    backdropUrl: keep('collection.backdropUrl', collection.backdropUrl, checkUrl, drop)
  })
}

/** An item description with every bad field dropped (and reported through `drop`). */
export function sanitizeInfo (info: ItemInfo, drop: DropHandler): ItemInfo {
  const kind = info.kind === 'movie' || info.kind === 'episode' || info.kind === 'extra' ? info.kind : undefined
  return defined({
    kind,
    title: keep('title', info.title, checkTitle, drop),
    originalTitle: keep('originalTitle', info.originalTitle, checkTitle, drop),
    sortTitle: keep('sortTitle', info.sortTitle, checkTitle, drop),
    year: keep('year', info.year, v => checkYear(v), drop),
    releaseDate: keep('releaseDate', info.releaseDate, checkDate, drop),
    overview: keep('overview', info.overview, checkOverview, drop),
    tagline: keep('tagline', info.tagline, checkTitle, drop),
    ids: sanitizeIds(info.ids, drop),
    posterUrl: keep('posterUrl', info.posterUrl, checkUrl, drop),
    backdropUrl: keep('backdropUrl', info.backdropUrl, checkUrl, drop),
    stillUrl: keep('stillUrl', info.stillUrl, checkUrl, drop),
    series: info.series == null ? undefined : sanitizeSeries(info.series, drop),
    season: keep('season', info.season, checkSeason, drop),
    episode: keep('episode', info.episode, checkEpisode, drop),
    episodeEnd: keep('episodeEnd', info.episodeEnd, checkEpisode, drop),
    collection: info.collection == null ? undefined : sanitizeCollection(info.collection, drop),
    extraType: info.extraType
  })
}
