import { posix } from 'node:path'
import { MAX_TITLE_CHARS, checkImdbId, checkNumericId, checkYear, cleanText, stripInvisibleFormat } from './sanitize.ts'
import type { ExternalIds, ExtraType, MediaKind } from './types.ts'

/*
 * Identification from a path, the way Jellyfin and Kodi name things:
 *   movies   Title (Year)/Title (Year).mkv, Title.Year.1080p.BluRay.x264-GRP.mkv, Title (Year) [imdbid-tt0133093].mkv
 *   series   Show (Year)/Season 01/Show - S01E02 - Name.mkv, S01E02E03, S01E02-E03, 1x02, Specials / Season 00
 *   extras   trailers/, extras/, featurettes/, ... folders, or a -trailer / -sample / ... suffix
 * An id in a file or folder name ([tmdbid-603], {imdb-tt0133093}, [tvdbid-81189]) wins over any search.
 * Release tokens (1080p, BluRay, x264...) are only cut from scene-style names (words joined by dots or
 * underscores) or after a year, so a hand-named "h264-aac-720p-30s.mp4" keeps its name as its title.
 */

/** What a path says about the media at it. */
export interface PathInfo {
  kind: MediaKind
  /** Movie title, the episode's own title (may be absent), or the extra's name. */
  title?: string
  year?: number
  ids: ExternalIds
  /** `ownFolder`: the folder is the series' own (its name gave the title), so tvshow.nfo and artwork there are its. */
  series?: { title: string, year?: number, ids: ExternalIds, folder: string, ownFolder: boolean }
  season?: number
  episode?: number
  episodeEnd?: number
  extraType?: ExtraType
  /** The folder the item belongs to: a movie's own folder, a series folder, or the owner of an extra. */
  folder: string
}

const YEAR_MIN = 1880

const RELEASE_TOKENS = new Set([
  '3d', 'sbs', 'hsbs', 'htab', 'mvc', 'hdr', 'hdr10', 'dv', 'uhd', '4k', '8k', 'ac3', 'eac3', 'dd5', 'ddp5', 'dts', 'truehd', 'atmos', 'aac',
  'flac', 'mp3', 'divx', 'dvd', 'dvdrip', 'dvdscr', 'dvd5', 'dvd9', 'screener', 'cam', 'hdcam', 'hdtv', 'hdrip', 'hdtvrip', 'pdtv', 'internal',
  'limited', 'multi', 'subs', 'ntsc', 'pal', 'proper', 'repack', 'rerip', 'retail', 'r5', 'unrated', 'extended', 'remastered', 'telesync',
  'telecine', 'brrip', 'bdrip', 'bluray', 'blu-ray', 'bd', 'remux', 'web', 'web-dl', 'webdl', 'webrip', 'amzn', 'nf', 'dsnp', 'hmax',
  'x264', 'x265', 'h264', 'h265', 'h.264', 'h.265', 'hevc', 'avc', 'xvid', '10bit', '8bit', 'dts-hd', 'hc', 'imax', 'dubbed', 'complete'
])
const RESOLUTION = /^(?:\d{3,4}[pi]|\d{3,4}x\d{3,4})$/i

const EXTRA_FOLDERS: Readonly<Record<string, ExtraType>> = {
  trailers: 'trailer',
  trailer: 'trailer',
  samples: 'sample',
  sample: 'sample',
  extras: 'other',
  extra: 'other',
  featurettes: 'featurette',
  'behind the scenes': 'behindthescenes',
  'deleted scenes': 'deleted',
  interviews: 'interview',
  scenes: 'scene',
  shorts: 'short',
  clips: 'clip',
  other: 'other',
  others: 'other'
}

/** Jellyfin's suffixes: `-trailer`, `-featurette`...; `.trailer`/`_sample` only for those two (a film may be "The Other") */
const EXTRA_SUFFIX = /(?:-(trailer|sample|featurette|behindthescenes|deleted|deletedscene|interview|scene|short|clip|other|extra)|[._ ](trailer|sample))\d*$/i
const EXTRA_SUFFIX_TYPES: Readonly<Record<string, ExtraType>> = Object.fromEntries([
  ...['trailer', 'sample', 'featurette', 'behindthescenes', 'deleted', 'interview', 'scene', 'short', 'clip', 'other'].map(t => [t, t]),
  ['deletedscene', 'deleted'],
  ['extra', 'other']
])

const ID_TAG = /[[{](imdb|tmdb|tvdb)(?:id)?[-=](tt\d+|\d+)[\]}]/gi
const SEASON_FOLDER = /^(?:season|series|saison|staffel|temporada|stagione|s)[ ._-]*(\d{1,4})(?:\b.*)?$/i
const SPECIALS_FOLDER = /^(?:specials?|extras? season)$/i
/** S01E02, s1e2, S01.E02, S01E02E03, S01E02-E03, S01E02-03 */
const SXXEYY = /(?:^|[^a-z0-9])s(\d{1,4})[ ._-]?e(\d{1,4})((?:(?:[ ._-]?e|-e?)\d{1,4})*)(?=$|[^a-z0-9])/i
/** 1x02, 1x02-1x03, 1x02x03 */
const NXNN = /(?:^|[^a-z0-9])(\d{1,2})x(\d{2,3})((?:(?:-\d{1,2}x|x)\d{2,3})*)(?=$|[^a-z0-9])/i
/** Inside a season folder: "Episode 5", "E05", "Ep 05", "05 - Name" */
const BARE_EPISODE = /^(?:(?:episode|ep|e)[ ._-]*(\d{1,4})|(\d{1,3})(?=$|[ ._-]))/i
/** cd1, disc 2, pt1, -part2 (but not "Deathly Hallows Part 2", which is a title) */
const MULTIPART = /(?:[ ._-]+(?:cd|dvd|disc|disk|pt)[ ._-]*\d{1,2}|\s*[._-]\s*part[ ._-]?\d{1,2}|[ ._-]part\d{1,2})$/i

/** Reads ids out of `[tmdbid-603]`-style tags; returns the ids and the name without the tags. */
export function extractIds (name: string): { ids: ExternalIds, rest: string } {
  const ids: ExternalIds = {}
  const rest = name.replace(ID_TAG, (_all, kind: string, value: string) => {
    const k = kind.toLowerCase()
    if (k === 'imdb') {
      const checked = checkImdbId(value)
      if (checked.ok) ids.imdb = checked.value
    } else {
      const checked = checkNumericId(value)
      if (checked.ok) ids[k as 'tmdb' | 'tvdb'] = checked.value
    }
    return ' '
  })
  return { ids, rest }
}

function isSceneStyle (name: string): boolean {
  return !name.includes(' ') && /[._]/.test(name)
}

/** Name without its extension, with brackets that are not years removed and separators made spaces where fitting. */
function words (name: string): { text: string, scene: boolean } {
  const scene = isSceneStyle(name)
  let text = stripInvisibleFormat(name)
  if (scene) text = text.replace(/[._]+/g, ' ')
  return { text, scene }
}

function isReleaseToken (token: string): boolean {
  const t = token.toLowerCase().replace(/^[[(]+|[\])]+$/g, '')
  return RELEASE_TOKENS.has(t) || RESOLUTION.test(t)
}

function maxYear (): number {
  return new Date().getUTCFullYear() + 1
}

interface TitleYear { title: string, year?: number }

/**
 * Splits "Title (Year) 1080p..." into title and year. The year is the last plausible year that is not the
 * first word ("1917 (2019)", "Blade Runner 2049 (2017)", "2001 A Space Odyssey 1968"); release tokens after
 * it, and in scene-style names anywhere, end the title.
 */
export function titleAndYear (raw: string): TitleYear {
  const { text, scene } = words(raw)
  const tokens = text.split(/(?=[ ()[\]{}-])|(?<=[ ()[\]{}-])/).filter(t => t !== '')
  // token indexes that hold a plausible year, not first, optionally in parentheses
  let yearAt = -1
  let year: number | undefined
  const seenWord = (i: number): boolean => tokens.slice(0, i).some(t => /[\p{L}\p{N}]/u.test(t))
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]
    if (!/^\d{4}$/.test(t)) continue
    const n = Number(t)
    if (n < YEAR_MIN || n > maxYear() || !seenWord(i)) continue
    // a year is followed by nothing, a bracket, a separator or a release token, never by more title words
    // unless it is in parentheses
    const before = tokens.slice(0, i).join('').trimEnd()
    const inParens = /[([]$/.test(before)
    const after = tokens.slice(i + 1).filter(x => !/^[\s\])}.-]*$/.test(x))
    if (inParens || after.length === 0 || isReleaseToken(after[0]) || scene) {
      yearAt = i
      year = n
      if (inParens) break
    }
  }
  let cut = tokens.length
  if (yearAt >= 0) cut = yearAt
  if (scene || yearAt >= 0) {
    const first = tokens.findIndex((t, i) => i < cut && isReleaseToken(t) && seenWord(i))
    if (first >= 0) cut = first
  }
  let title = tokens.slice(0, cut).join('')
  title = title.replace(/\[[^\]]*\]|\{[^}]*\}/g, ' ')
  title = title.replace(/[\s([{-]+$/g, '').replace(/^[\s\])}-]+/, '')
  title = cleanText(title).replace(/\(\s*\)/g, '').trim()
  if (title === '') title = cleanText(raw)
  return year == null ? { title: bound(title) } : { title: bound(title), year }
}

function bound (title: string): string {
  return title.length > MAX_TITLE_CHARS ? title.slice(0, MAX_TITLE_CHARS).trimEnd() : title
}

function mergeIds (...all: ExternalIds[]): ExternalIds {
  return Object.assign({}, ...all.toReversed()) as ExternalIds
}

interface EpisodeMark { season?: number, episode: number, episodeEnd?: number, index: number, length: number }

function lastNumber (tail: string): number | undefined {
  const all = tail.match(/\d{1,4}/g)
  return all == null ? undefined : Number(all[all.length - 1])
}

function findEpisode (name: string, inSeasonFolder: boolean): EpisodeMark | undefined {
  const sxe = SXXEYY.exec(name)
  if (sxe != null) {
    const start = sxe.index + (/^[^a-z0-9]/i.test(sxe[0]) ? 1 : 0)
    return { season: Number(sxe[1]), episode: Number(sxe[2]), episodeEnd: lastNumber(sxe[3]), index: start, length: sxe.index + sxe[0].length - start }
  }
  const nx = NXNN.exec(name)
  if (nx != null) {
    const start = nx.index + (/^[^a-z0-9]/i.test(nx[0]) ? 1 : 0)
    return { season: Number(nx[1]), episode: Number(nx[2]), episodeEnd: lastNumber(nx[3].replace(/-\d{1,2}x/g, '-')), index: start, length: nx.index + nx[0].length - start }
  }
  if (inSeasonFolder) {
    const bare = BARE_EPISODE.exec(name)
    if (bare != null) return { episode: Number(bare[1] ?? bare[2]), index: 0, length: bare[0].length }
  }
  return undefined
}

function seasonOfFolder (name: string): number | undefined {
  if (SPECIALS_FOLDER.test(name)) return 0
  const match = SEASON_FOLDER.exec(name)
  return match == null ? undefined : Number(match[1])
}

function sameTitle (a: string, b: string): boolean {
  const norm = (s: string): string => s.toLowerCase().normalize('NFKD').replace(/[^\p{L}\p{N}]+/gu, '')
  return norm(a) === norm(b)
}

/**
 * Identifies the media at `path` from its file and folder names alone. `extras: false` reads it as a movie or
 * an episode whatever its name says (for a file whose own NFO says what it is).
 */
export function parseMediaPath (path: string, options: { extras?: boolean } = {}): PathInfo {
  const file = posix.basename(path)
  const ext = posix.extname(file)
  // names are read without bidi controls (a hidden U+202E must not break "(1995)"); folders stay real paths
  const stem = stripInvisibleFormat(ext.length > 0 && ext.length <= 6 ? file.slice(0, -ext.length) : file)
  const dir = posix.dirname(path)
  const parentName = stripInvisibleFormat(posix.basename(dir))

  const extraFolder = EXTRA_FOLDERS[parentName.toLowerCase()]
  const suffix = EXTRA_SUFFIX.exec(stem)
  const bareExtra = /^(trailer|sample)$/i.exec(stem)
  if (options.extras !== false && (extraFolder != null || suffix != null || bareExtra != null)) {
    const type = extraFolder ?? EXTRA_SUFFIX_TYPES[(suffix?.[1] ?? suffix?.[2] ?? bareExtra?.[1] ?? 'other').toLowerCase()] ?? 'other'
    const owner = extraFolder != null ? posix.dirname(dir) : dir
    const named = extraFolder != null ? stem : stem.slice(0, suffix?.index ?? stem.length)
    const { ids, rest } = extractIds(named === '' ? stem : named)
    return { kind: 'extra', extraType: type, title: titleAndYear(rest).title, ids, folder: owner }
  }

  const folderSeason = seasonOfFolder(parentName)
  const { ids: fileIds, rest: stemRest } = extractIds(stem)
  const mark = findEpisode(stemRest, folderSeason != null)
  if (mark != null) return episodeInfo(path, stemRest, fileIds, mark, folderSeason)

  // a movie: its own folder may carry the year and ids the file lacks
  const parsed = titleAndYear(stemRest.replace(MULTIPART, ''))
  const { ids: dirIds, rest: dirRest } = extractIds(parentName)
  const folder = titleAndYear(dirRest)
  const generic = /^(movie|video|film|main|feature)$/i.test(parsed.title)
  const title = generic && folder.title !== '' ? folder.title : parsed.title
  const year = parsed.year ?? (sameTitle(folder.title, title) || generic ? folder.year : undefined)
  const info: PathInfo = { kind: 'movie', title, ids: mergeIds(fileIds, sameTitle(folder.title, title) || generic ? dirIds : {}), folder: dir }
  if (year != null && checkYear(year).ok) info.year = year
  return info
}

function episodeInfo (path: string, stem: string, fileIds: ExternalIds, mark: EpisodeMark, folderSeason: number | undefined): PathInfo {
  const dir = posix.dirname(path)
  const seriesDir = folderSeason != null ? posix.dirname(dir) : dir
  const { ids: seriesIds, rest: seriesRest } = extractIds(posix.basename(seriesDir))
  const fromFolder = titleAndYear(seriesRest)
  const prefix = titleAndYear(stem.slice(0, mark.index).replace(/[\s._-]+$/, ''))
  const prefixTitle = stem.slice(0, mark.index).replace(/[\s._-]+$/, '') === '' ? '' : prefix.title
  let series: TitleYear = fromFolder
  let ids = seriesIds
  let ownFolder = true
  // the folder names the show when it is a season folder's parent or agrees with the file; else the file does
  if (folderSeason == null && prefixTitle !== '' && !sameTitle(prefixTitle, fromFolder.title)) {
    series = prefix
    ids = {}
    ownFolder = false
  }
  const after = stem.slice(mark.index + mark.length).replace(/^[\s._-]+/, '')
  const episodeTitle = after === '' ? undefined : titleAndYear(after)
  const info: PathInfo = {
    kind: 'episode',
    ids: fileIds,
    series: { title: series.title, ids, folder: seriesDir, ownFolder },
    season: mark.season ?? folderSeason ?? 1,
    episode: mark.episode,
    folder: seriesDir
  }
  if (series.year != null && info.series != null) info.series.year = series.year
  if (mark.episodeEnd != null && mark.episodeEnd > mark.episode) info.episodeEnd = mark.episodeEnd
  // a title that is only release tokens ("720p HDTV x264-GRP") is no title
  if (episodeTitle != null && !isReleaseToken(episodeTitle.title.split(' ')[0] ?? '') && !/^[\d\s-]*$/.test(episodeTitle.title)) {
    info.title = episodeTitle.title
  }
  return info
}
