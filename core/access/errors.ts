import { CidcastError } from '../errors.ts'

/*
 * Stream-token and signing-key conditions, in the pattern of core/errors.ts (told apart by `name`). Their HTTP
 * statuses are in gateway/middleware/error-status.ts. No message ever quotes a token or a key's private half.
 */

/** A media request that carries no stream token. */
export class TokenMissingError extends CidcastError {
  static override readonly code: string = 'TokenMissingError'
  override readonly name = 'TokenMissingError'
}

/** A stream token that does not parse, is not signed by an accepted key, or whose key id is unknown. */
export class TokenInvalidError extends CidcastError {
  static override readonly code: string = 'TokenInvalidError'
  override readonly name = 'TokenInvalidError'
}

/** A well-signed stream token past its expiry (beyond the clock skew allowed). */
export class TokenExpiredError extends CidcastError {
  static override readonly code: string = 'TokenExpiredError'
  override readonly name = 'TokenExpiredError'
}

/** A well-signed stream token used for another media, or for a root it does not cover. */
export class TokenScopeError extends CidcastError {
  static override readonly code: string = 'TokenScopeError'
  override readonly name = 'TokenScopeError'
}

/** A public stream key (from the main server or a key file) that is malformed or whose id does not match it. */
export class InvalidStreamKeyError extends CidcastError {
  static override readonly code: string = 'InvalidStreamKeyError'
  override readonly name = 'InvalidStreamKeyError'
}
