import { CidcastError } from '../errors.ts'

/*
 * The metadata part's error conditions, in the pattern of core/errors.ts (told apart by `name`).
 * Their HTTP statuses are in gateway/middleware/error-status.ts.
 */

/** No series has the given id. (404) */
export class SeriesNotFoundError extends CidcastError {
  static override readonly code: string = 'SeriesNotFoundError'
  override readonly name = 'SeriesNotFoundError'
}

/** No collection has the given id. (404) */
export class CollectionNotFoundError extends CidcastError {
  static override readonly code: string = 'CollectionNotFoundError'
  override readonly name = 'CollectionNotFoundError'
}

/** No audit entry has the given id for this media. (404) */
export class AuditEntryNotFoundError extends CidcastError {
  static override readonly code: string = 'AuditEntryNotFoundError'
  override readonly name = 'AuditEntryNotFoundError'
}

/** A provider was asked for but none (or not that one) is configured with a key. (409) */
export class NoProviderError extends CidcastError {
  static override readonly code: string = 'NoProviderError'
  override readonly name = 'NoProviderError'
}

/** A provider did not answer usefully: unreachable, timed out, refused the key, or sent garbage. */
export class ProviderError extends CidcastError {
  static override readonly code: string = 'ProviderError'
  override readonly name = 'ProviderError'
}

/** An image URL or its answer was refused: host not allowed, internal address, too big, not an image. */
export class ImageRefusedError extends CidcastError {
  static override readonly code: string = 'ImageRefusedError'
  override readonly name = 'ImageRefusedError'
}
