/*
 * core/metadata: what the library knows about each media beyond its bytes: titles, series, seasons, collections,
 * external ids and artwork, gathered from paths, Kodi NFO files and the TMDB/TVDB/OMDb providers, edited by hand
 * with an audit trail, and shown through views. Its rows live in the catalog's database (core/catalog's metadata
 * repository). Main server only. Other folders import this file only.
 */

export { createMetadata, createProviders } from './config.ts'
export type { MetadataComponents, MetadataConfig } from './config.ts'
export { createMetadataService } from './service.ts'
export type { IdentifyResult, MetadataService, MetadataServiceComponents, MetadataServiceInit } from './service.ts'
export type { CollectionView, IdsView, ImageRef, ItemSummary, MediaMetadataView, SeasonView, SeriesView } from './views.ts'
export type { CollectionInfo, ExternalIds, ExtraType, ItemInfo, Match, MediaKind, ProviderName, SeasonInfo, SeriesInfo } from './types.ts'
export { AuditEntryNotFoundError, CollectionNotFoundError, ImageRefusedError, NoProviderError, ProviderError, SeriesNotFoundError } from './errors.ts'
