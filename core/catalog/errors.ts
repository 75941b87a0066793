import { CidcastError } from '../errors.ts'

/*
 * The catalog's own error conditions, in the pattern of core/errors.ts (told apart by `name`).
 * Their HTTP statuses are in gateway/middleware/error-status.ts.
 */

/** No rendition has the given key. */
export class RenditionNotFoundError extends CidcastError {
  static override readonly code: string = 'RenditionNotFoundError'
  override readonly name = 'RenditionNotFoundError'
}

/** A rendition cannot be completed: a segment or the init segment is missing. */
export class IncompleteRenditionError extends CidcastError {
  static override readonly code: string = 'IncompleteRenditionError'
  override readonly name = 'IncompleteRenditionError'
}

/** The catalog was used before `start()` or after `stop()`. */
export class CatalogNotStartedError extends CidcastError {
  static override readonly code: string = 'CatalogNotStartedError'
  override readonly name = 'CatalogNotStartedError'
}
