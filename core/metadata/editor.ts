import { readFile } from 'node:fs/promises'
import { InvalidRequestError } from '../errors.ts'
import { writeFileAtomic } from '../fs-atomic.ts'
import { NfoError, MAX_NFO_BYTES, buildItemNfo, isFile, itemNfoPaths } from './nfo.ts'
import { checkDate, checkEpisode, checkImdbId, checkNumericId, checkOverview, checkSeason, checkTitle, checkYear } from './sanitize.ts'
import { FIELD_NAMES, normalTitle } from '../catalog/index.ts'
import { shortId } from './short-id.ts'
import type { Checked } from './sanitize.ts'
import type { FieldName, MetadataFields, MetadataRepository } from '../catalog/index.ts'
import type { ItemInfo } from './types.ts'

/*
 * Hand edits: a patch names fields and their new values (null clears an optional one); every edited field is
 * locked against later identification unless the patch unlocks it. Values pass the same checks as NFO and
 * provider data, but here a bad value is refused (InvalidRequestError) instead of dropped.
 */

/** Fields a patch may set, with their checks. `null` clears all but title and kind. */
const EDITABLE: Partial<Record<FieldName, (value: unknown) => Checked<unknown>>> = {
  title: checkTitle,
  originalTitle: v => checkTitle(v, 'originalTitle'),
  sortTitle: v => checkTitle(v, 'sortTitle'),
  year: v => checkYear(v),
  releaseDate: checkDate,
  overview: checkOverview,
  tagline: v => checkTitle(v, 'tagline'),
  imdb: checkImdbId,
  tmdb: v => checkNumericId(v, 'tmdb id'),
  tvdb: v => checkNumericId(v, 'tvdb id'),
  season: checkSeason,
  episode: checkEpisode,
  episodeEnd: checkEpisode,
  kind: v => v === 'movie' || v === 'episode' || v === 'extra' ? { ok: true, value: v } : { ok: false, reason: 'kind must be movie, episode or extra' }
}

/** Every name a lock may carry. */
const LOCKABLE = new Set<string>([...Object.keys(EDITABLE), 'series', 'collection', 'poster', 'backdrop', 'still'])

export interface ParsedPatch {
  values: Partial<Record<FieldName, unknown>>
  /** A series title to move an episode to (found in its folder, or created). */
  seriesTitle?: string
  lock: string[]
  unlock: string[]
}

function names (value: unknown, what: string): string[] {
  if (value == null) return []
  if (!Array.isArray(value) || value.some(v => typeof v !== 'string' || !LOCKABLE.has(v))) {
    throw new InvalidRequestError(`${what} must be a list of field names (${[...LOCKABLE].join(', ')})`)
  }
  return value as string[]
}

/** Checks a PATCH body; throws InvalidRequestError naming the first bad field. */
export function parsePatch (body: unknown): ParsedPatch {
  if (body == null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('expected a JSON object of fields to change')
  const input = { ...(body as Record<string, unknown>) }
  const ids = input.ids
  delete input.ids
  if (ids != null) {
    if (typeof ids !== 'object' || Array.isArray(ids)) throw new InvalidRequestError('ids must be an object { imdb, tmdb, tvdb }')
    for (const [k, v] of Object.entries(ids)) {
      if (k !== 'imdb' && k !== 'tmdb' && k !== 'tvdb') throw new InvalidRequestError(`unknown id type ${JSON.stringify(k).slice(0, 40)}`)
      input[k] = v
    }
  }
  const patch: ParsedPatch = { values: {}, lock: names(input.lock, 'lock'), unlock: names(input.unlock, 'unlock') }
  delete input.lock
  delete input.unlock
  if (input.seriesTitle !== undefined) {
    const checked = checkTitle(input.seriesTitle, 'seriesTitle')
    if (!checked.ok) throw new InvalidRequestError(checked.reason)
    patch.seriesTitle = checked.value
    delete input.seriesTitle
  }
  for (const [key, value] of Object.entries(input)) {
    const check = EDITABLE[key as FieldName]
    if (check == null) throw new InvalidRequestError(`${JSON.stringify(key).slice(0, 40)} cannot be edited (editable: ${Object.keys(EDITABLE).join(', ')}, ids, seriesTitle, lock, unlock)`)
    if (value === null) {
      if (key === 'title' || key === 'kind') throw new InvalidRequestError(`${key} cannot be cleared`)
      patch.values[key as FieldName] = null
      continue
    }
    const checked = check(value)
    if (!checked.ok) throw new InvalidRequestError(checked.reason)
    patch.values[key as FieldName] = checked.value
  }
  if (Object.keys(patch.values).length === 0 && patch.seriesTitle == null && patch.lock.length === 0 && patch.unlock.length === 0) {
    throw new InvalidRequestError('the patch changes nothing')
  }
  return patch
}

/** Applies a parsed patch to `current`: new values, edited fields locked, then the patch's own lock/unlock lists. */
export async function patchFields (store: MetadataRepository, current: MetadataFields, folder: string, patch: ParsedPatch): Promise<MetadataFields> {
  const next: MetadataFields = { ...current, locked: [...current.locked] }
  const locks = new Set(current.locked)
  for (const [field, value] of Object.entries(patch.values)) {
    (next as unknown as Record<string, unknown>)[field] = value
    locks.add(field)
  }
  if (patch.seriesTitle != null) {
    const found = await store.findSeries({}, folder, patch.seriesTitle)
    const id = found?.id ?? shortId(`series:${folder}:${normalTitle(patch.seriesTitle)}`)
    if (found == null) await store.putSeries(id, { title: patch.seriesTitle, folder })
    next.series = id
    next.kind = 'episode'
    locks.add('series')
  }
  for (const field of patch.lock) locks.add(field)
  for (const field of patch.unlock) locks.delete(field)
  next.locked = [...locks].filter(f => FIELD_NAMES.includes(f as FieldName)).sort()
  return next
}

/** Writes the item's NFO next to the media (updating the one that exists), keeping elements we do not manage. */
export async function writeItemNfo (mediaPath: string, fields: MetadataFields, seriesTitle: string | undefined, collectionTitle: string | undefined): Promise<string | undefined> {
  if (fields.kind === 'extra') return undefined
  const candidates = itemNfoPaths(mediaPath, fields.kind)
  let target = candidates[0]
  for (const path of candidates) {
    if (await isFile(path)) { target = path; break }
  }
  let existing: string | undefined
  if (await isFile(target)) {
    const buffer = await readFile(target)
    if (buffer.byteLength > MAX_NFO_BYTES) throw new NfoError(`the existing ${target} is too big to update`)
    existing = buffer.toString('utf8')
  }
  const info: ItemInfo = {
    title: fields.title,
    originalTitle: fields.originalTitle ?? undefined,
    sortTitle: fields.sortTitle ?? undefined,
    year: fields.year ?? undefined,
    releaseDate: fields.releaseDate ?? undefined,
    overview: fields.overview ?? undefined,
    tagline: fields.tagline ?? undefined,
    ids: { imdb: fields.imdb ?? undefined, tmdb: fields.tmdb ?? undefined, tvdb: fields.tvdb ?? undefined },
    season: fields.season ?? undefined,
    episode: fields.episode ?? undefined,
    collection: collectionTitle == null ? undefined : { title: collectionTitle, ids: {} }
  }
  await writeFileAtomic(target, buildItemNfo(fields.kind, info, existing, seriesTitle))
  return target
}
