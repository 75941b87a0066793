import { readFile } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'
import { InvalidConfigError } from '../errors.ts'
import { createImageFetcher } from './image-fetcher.ts'
import { createImageStore } from './image-store.ts'
import { createOmdbProvider } from './providers/omdb.ts'
import { createTmdbProvider } from './providers/tmdb.ts'
import { createTvdbProvider } from './providers/tvdb.ts'
import { createMetadataService } from './service.ts'
import { PROVIDER_NAMES } from './types.ts'
import type { ProviderHttpInit } from './provider-http.ts'
import type { MetadataProvider } from './providers/provider.ts'
import type { MetadataService } from './service.ts'
import type { ProviderName } from './types.ts'
import type { Catalog } from '../catalog/catalog.ts'
import type { Logger } from '../logger.ts'
import type { PosterFrames } from '../media/poster-frame.ts'
import type { UnixFS } from '@helia/unixfs'
import type { Pins } from '@helia/interface'

/*
 * Metadata settings: environment (CIDCAST_*) > `<data>/config.json` > defaults. A provider is enabled by its
 * key; with no key at all the library still works from paths and NFO files. Base URLs and image hosts default
 * to the real services and are configurable so tests can point them at a local stub.
 */

export interface MetadataConfig {
  /** Providers in the order they are asked; only those with a key are used. @default ['tmdb', 'tvdb', 'omdb'] */
  providers: ProviderName[]
  keys: { tmdb?: string, tvdb?: string, tvdbPin?: string, omdb?: string }
  urls: { tmdb?: string, tmdbImages?: string, tvdb?: string, omdb?: string }
  imageHosts: { tvdb?: string[], omdb?: string[] }
  /** BCP 47 language for TMDB (`en-US`); TVDB gets the matching three-letter code. @default en-US */
  language: string
  /** Write NFO files back when metadata is edited: everywhere (true), or only under these library folders. @default false */
  writeNfo: boolean | string[]
  /** Fetch artwork from providers. @default true */
  fetchImages: boolean
  http?: ProviderHttpInit
  images?: {
    maxBytes?: number
    timeoutMs?: number
    /** TEST ONLY (never read from the environment or config file): internal addresses to allow. */
    allowAddresses?: string[]
    /** TEST ONLY: allow plain http image URLs. */
    allowHttp?: boolean
  }
}

/** The environment variables, for the README and `--help`. */
export const METADATA_ENV = {
  tmdbKey: 'CIDCAST_TMDB_KEY',
  tvdbKey: 'CIDCAST_TVDB_KEY',
  tvdbPin: 'CIDCAST_TVDB_PIN',
  omdbKey: 'CIDCAST_OMDB_KEY',
  metadataProviders: 'CIDCAST_METADATA_PROVIDERS',
  metadataLanguage: 'CIDCAST_METADATA_LANGUAGE',
  writeNfo: 'CIDCAST_WRITE_NFO',
  fetchImages: 'CIDCAST_FETCH_IMAGES',
  tmdbUrl: 'CIDCAST_TMDB_URL',
  tmdbImageUrl: 'CIDCAST_TMDB_IMAGE_URL',
  tvdbUrl: 'CIDCAST_TVDB_URL',
  tvdbImageHosts: 'CIDCAST_TVDB_IMAGE_HOSTS',
  omdbUrl: 'CIDCAST_OMDB_URL',
  omdbImageHosts: 'CIDCAST_OMDB_IMAGE_HOSTS'
} as const

type Key = keyof typeof METADATA_ENV

const TVDB_LANGUAGES: Readonly<Record<string, string>> = {
  en: 'eng', de: 'deu', fr: 'fra', es: 'spa', it: 'ita', pt: 'por', nl: 'nld', sv: 'swe', da: 'dan', no: 'nor', fi: 'fin', pl: 'pol', cs: 'ces', hu: 'hun', ru: 'rus', ja: 'jpn', ko: 'kor', zh: 'zho', tr: 'tur', el: 'ell', he: 'heb', ar: 'ara'
}

function text (value: unknown, key: string): string {
  if (typeof value !== 'string' || value.trim() === '' || /[\s\0]/.test(value.trim())) throw new InvalidConfigError(`${key} must be a non-empty string without spaces`)
  return value.trim()
}

function flag (value: unknown, key: string): boolean {
  if (typeof value === 'boolean') return value
  if (typeof value === 'string' && /^(1|true|yes|on)$/i.test(value)) return true
  if (typeof value === 'string' && /^(0|false|no|off)$/i.test(value)) return false
  throw new InvalidConfigError(`${key} must be true or false`)
}

/** true/false, or a list of folders (absolute paths) whose media get NFO files written back. */
function nfoSetting (value: unknown, key: string): boolean | string[] {
  if (typeof value === 'boolean' || (typeof value === 'string' && /^(1|true|yes|on|0|false|no|off)$/i.test(value))) return flag(value, key)
  const folders = list(value, key)
  for (const folder of folders) if (!isAbsolute(folder)) throw new InvalidConfigError(`${key}: ${JSON.stringify(folder)} is not an absolute folder (or use true / false)`)
  return folders.map(folder => resolve(folder))
}

function list (value: unknown, key: string): string[] {
  const items = typeof value === 'string' ? value.split(',').map(s => s.trim()).filter(s => s !== '') : value
  if (!Array.isArray(items) || items.some(i => typeof i !== 'string' || i === '')) throw new InvalidConfigError(`${key} must be a list of strings`)
  return items as string[]
}

function httpUrl (value: unknown, key: string): string {
  const s = text(value, key)
  try {
    const url = new URL(s)
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('scheme')
  } catch {
    throw new InvalidConfigError(`${key} must be an http(s) URL`)
  }
  return s
}

function hosts (value: unknown, key: string): string[] {
  const items = list(value, key)
  for (const h of items) if (!/^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9a-fA-F:.]+\](?::\d{1,5})?$/.test(h)) throw new InvalidConfigError(`${key}: ${JSON.stringify(h)} is not a host or host:port`)
  return items.map(h => h.toLowerCase())
}

/** Reads the metadata settings from the environment and `<data>/config.json`; bad values are refused naming the key. */
export async function loadMetadataConfig (data: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<MetadataConfig> {
  let file: Record<string, unknown> = {}
  if (data != null) {
    try {
      const parsed: unknown = JSON.parse(await readFile(join(data, 'config.json'), 'utf8'))
      if (parsed != null && typeof parsed === 'object' && !Array.isArray(parsed)) file = parsed as Record<string, unknown>
    } catch {
      // absent or malformed: the server's own config loader reports a malformed file
    }
  }
  const raw = (key: Key): unknown => env[METADATA_ENV[key]] ?? file[key]
  const opt = <T>(key: Key, parse: (v: unknown, k: string) => T): T | undefined => {
    const value = raw(key)
    return value === undefined || value === '' ? undefined : parse(value, key)
  }
  const order = opt('metadataProviders', list) ?? [...PROVIDER_NAMES]
  for (const name of order) if (!PROVIDER_NAMES.includes(name as ProviderName)) throw new InvalidConfigError(`metadataProviders: unknown provider ${JSON.stringify(name)} (known: ${PROVIDER_NAMES.join(', ')})`)
  const language = opt('metadataLanguage', text) ?? 'en-US'
  if (!/^[a-z]{2}(?:-[A-Z]{2})?$/.test(language)) throw new InvalidConfigError('metadataLanguage must look like en or en-US')
  return {
    providers: [...new Set(order)] as ProviderName[],
    keys: { tmdb: opt('tmdbKey', text), tvdb: opt('tvdbKey', text), tvdbPin: opt('tvdbPin', text), omdb: opt('omdbKey', text) },
    urls: { tmdb: opt('tmdbUrl', httpUrl), tmdbImages: opt('tmdbImageUrl', httpUrl), tvdb: opt('tvdbUrl', httpUrl), omdb: opt('omdbUrl', httpUrl) },
    imageHosts: { tvdb: opt('tvdbImageHosts', hosts), omdb: opt('omdbImageHosts', hosts) },
    language,
    writeNfo: opt('writeNfo', nfoSetting) ?? false,
    fetchImages: opt('fetchImages', flag) ?? true
  }
}

/** The enabled providers, in the configured order. */
export function createProviders (components: { logger: Logger }, config: MetadataConfig): MetadataProvider[] {
  const out: MetadataProvider[] = []
  for (const name of config.providers) {
    if (name === 'tmdb' && config.keys.tmdb != null) {
      out.push(createTmdbProvider(components, { key: config.keys.tmdb, baseUrl: config.urls.tmdb, imageBaseUrl: config.urls.tmdbImages, language: config.language, http: config.http }))
    } else if (name === 'tvdb' && config.keys.tvdb != null) {
      out.push(createTvdbProvider(components, { key: config.keys.tvdb, pin: config.keys.tvdbPin, baseUrl: config.urls.tvdb, imageHosts: config.imageHosts.tvdb, language: TVDB_LANGUAGES[config.language.slice(0, 2)] ?? 'eng', http: config.http }))
    } else if (name === 'omdb' && config.keys.omdb != null) {
      out.push(createOmdbProvider(components, { key: config.keys.omdb, baseUrl: config.urls.omdb, imageHosts: config.imageHosts.omdb, http: config.http }))
    }
  }
  return out
}

export interface MetadataComponents {
  logger: Logger
  catalog: Pick<Catalog, 'getMedia' | 'repositories'>
  unixfs: Pick<UnixFS, 'addBytes'>
  pins: Pick<Pins, 'add' | 'isPinned'>
  /** Poster frames for media without artwork (core/media/poster-frame.ts); absent: none are made. */
  frames?: PosterFrames
}

/** Builds the metadata service with its providers, image fetcher and image store from `config`. */
export function createMetadata (components: MetadataComponents, config: MetadataConfig): MetadataService {
  const providers = createProviders(components, config)
  const fetcher = config.fetchImages && providers.length > 0
    ? createImageFetcher({ hosts: providers.flatMap(p => p.imageHosts), ...config.images })
    : undefined
  const logger = components.logger
  const store = components.catalog.repositories.metadata
  const images = createImageStore({ logger, store, fetcher, unixfs: components.unixfs, pins: components.pins })
  return createMetadataService({ logger, catalog: components.catalog, providers, images, store, frames: components.frames }, { writeNfo: config.writeNfo })
}
