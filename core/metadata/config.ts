import { createImageFetcher } from './image-fetcher.ts'
import { createImageStore } from './image-store.ts'
import { createOmdbProvider } from './providers/omdb.ts'
import { createTmdbProvider } from './providers/tmdb.ts'
import { createTvdbProvider } from './providers/tvdb.ts'
import { createMetadataService } from './service.ts'
import type { ProviderHttpInit } from './provider-http.ts'
import type { MetadataProvider } from './providers/provider.ts'
import type { MetadataService } from './service.ts'
import type { ProviderName } from './types.ts'
import type { Catalog } from '../catalog/index.ts'
import type { Logger } from '../logger.ts'
import type { PosterFrames } from '../media/index.ts'
import type { UnixFS } from '@helia/unixfs'
import type { Pins } from '@helia/interface'

/** The metadata service's settings, as core/config/metadata.ts reads them (keys in core/config/keys.ts). */
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

const TVDB_LANGUAGES: Readonly<Record<string, string>> = {
  en: 'eng', de: 'deu', fr: 'fra', es: 'spa', it: 'ita', pt: 'por', nl: 'nld', sv: 'swe', da: 'dan', no: 'nor', fi: 'fin', pl: 'pol', cs: 'ces', hu: 'hun', ru: 'rus', ja: 'jpn', ko: 'kor', zh: 'zho', tr: 'tur', el: 'ell', he: 'heb', ar: 'ara'
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
  catalog: Pick<Catalog, 'getMedia' | 'getMediaMany' | 'repositories'>
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
