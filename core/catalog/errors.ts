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

/** Seconds a caller is told to wait before trying again after a CatalogBusyError. */
export const CATALOG_RETRY_AFTER_SECONDS = 5

/**
 * The catalog's database stayed locked by another process for longer than the catalog waits; nothing was changed.
 * Says when to try again, so the gateway can answer 503 with `Retry-After`.
 */
export class CatalogBusyError extends CidcastError {
  static override readonly code: string = 'CatalogBusyError'
  override readonly name = 'CatalogBusyError'
  readonly retryAfterSeconds: number

  constructor (message: string, retryAfterSeconds = CATALOG_RETRY_AFTER_SECONDS) {
    super(message)
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** The catalog's database cannot be reached or refused the connection (PostgreSQL down, wrong password, no such database). */
export class CatalogUnavailableError extends CidcastError {
  static override readonly code: string = 'CatalogUnavailableError'
  override readonly name = 'CatalogUnavailableError'
  /** A database that went away mid-run (a restart, a failover) is usually back within seconds. */
  readonly retryAfterSeconds = CATALOG_RETRY_AFTER_SECONDS
}

/** A database the catalog cannot be kept in as it is (a PostgreSQL collation that orders text otherwise than SQLite). */
export class UnsuitableDatabaseError extends CidcastError {
  static override readonly code: string = 'UnsuitableDatabaseError'
  override readonly name = 'UnsuitableDatabaseError'
}

/** `cidcast db copy` was pointed at a database that already holds tables: it fills only an empty one. */
export class DatabaseNotEmptyError extends CidcastError {
  static override readonly code: string = 'DatabaseNotEmptyError'
  override readonly name = 'DatabaseNotEmptyError'
}

/** A copied table whose rows do not match the source's (count or checksum): the copy was rolled back whole. */
export class CopyMismatchError extends CidcastError {
  static override readonly code: string = 'CopyMismatchError'
  override readonly name = 'CopyMismatchError'
}
