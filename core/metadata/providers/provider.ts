import { ProviderError } from '../errors.ts'
import type { CollectionInfo, ExternalIds, ItemInfo, Match, ProviderName, SeriesInfo } from '../types.ts'

/*
 * One interface for every metadata provider. Answers come back in our shapes (types.ts), unchecked: the
 * service runs them through sanitize.ts, which drops whatever is garbage. A provider returns undefined for
 * "not found" and throws ProviderError for "could not find out".
 */

export interface ProviderCallOptions {
  signal?: AbortSignal
}

export interface MetadataProvider {
  readonly name: ProviderName
  /** Host names (host or host:port) its images may be fetched from. */
  readonly imageHosts: readonly string[]
  searchMovies: (query: string, year?: number, options?: ProviderCallOptions) => Promise<Match[]>
  searchSeries: (query: string, year?: number, options?: ProviderCallOptions) => Promise<Match[]>
  /** A movie by whichever of its ids this provider resolves. */
  movie: (ids: ExternalIds, options?: ProviderCallOptions) => Promise<ItemInfo | undefined>
  /** A series by whichever of its ids this provider resolves. */
  series: (ids: ExternalIds, options?: ProviderCallOptions) => Promise<SeriesInfo | undefined>
  /** One episode of a series (by the series' ids). */
  episode: (series: ExternalIds, season: number, episode: number, options?: ProviderCallOptions) => Promise<ItemInfo | undefined>
  /** A movie collection's own description, when the provider has collections. */
  collection?: (ids: ExternalIds, options?: ProviderCallOptions) => Promise<CollectionInfo | undefined>
}

/** Most matches a search returns. */
export const MAX_MATCHES = 10

/** Narrowing helpers for JSON of unknown shape: each returns undefined for the wrong type. */
export function obj (value: unknown): Record<string, unknown> | undefined {
  return value != null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : undefined
}

export function arr (value: unknown): unknown[] {
  return Array.isArray(value) ? value : []
}

export function str (value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

export function num (value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value
  if (typeof value === 'string' && /^\d{1,12}$/.test(value)) return Number(value)
  return undefined
}

/** The year of `YYYY...` text (a date, or "2008–2013"). */
export function yearOf (value: unknown): number | undefined {
  const text = str(value)
  const match = text == null ? null : /^(\d{4})/.exec(text)
  return match == null ? undefined : Number(match[1])
}

/** The top-level object of an answer; anything else is garbage. */
export function body (provider: string, what: string, value: unknown): Record<string, unknown> {
  const o = obj(value)
  if (o == null) throw new ProviderError(`${provider}: ${what}: the answer is not a JSON object`)
  return o
}

/** Drops undefined fields, so results compare and serialise cleanly. */
export function compact<T extends object> (value: T): T {
  for (const key of Object.keys(value) as Array<keyof T>) if (value[key] === undefined) delete value[key]
  return value
}
