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

/** A stream token of another user than the owner, on a local node (which serves its owner alone). */
export class OwnerOnlyError extends CidcastError {
  static override readonly code: string = 'OwnerOnlyError'
  override readonly name = 'OwnerOnlyError'
}

/** A public stream key (from the main server or a key file) that is malformed or whose id does not match it. */
export class InvalidStreamKeyError extends CidcastError {
  static override readonly code: string = 'InvalidStreamKeyError'
  override readonly name = 'InvalidStreamKeyError'
}

/** An API request without a session or API token, where one is needed. */
export class AuthenticationRequiredError extends CidcastError {
  static override readonly code: string = 'AuthenticationRequiredError'
  override readonly name = 'AuthenticationRequiredError'
}

/** A login with a wrong name or password (the message never says which), or a token that is unknown or expired. */
export class InvalidCredentialsError extends CidcastError {
  static override readonly code: string = 'InvalidCredentialsError'
  override readonly name = 'InvalidCredentialsError'
}

/** A signed-in user asking for what their role does not allow. */
export class PermissionDeniedError extends CidcastError {
  static override readonly code: string = 'PermissionDeniedError'
  override readonly name = 'PermissionDeniedError'
}

/** Too many failed logins for an account or from an address; `retryAfterSeconds` says when to try again. */
export class TooManyAttemptsError extends CidcastError {
  static override readonly code: string = 'TooManyAttemptsError'
  override readonly name = 'TooManyAttemptsError'
  readonly retryAfterSeconds: number
  constructor (message: string, retryAfterSeconds: number) {
    super(message)
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** A user name that is taken, or an API token name the user already has. */
export class AccountExistsError extends CidcastError {
  static override readonly code: string = 'AccountExistsError'
  override readonly name = 'AccountExistsError'
}

/** No user, or no token, of that name or id. */
export class AccountNotFoundError extends CidcastError {
  static override readonly code: string = 'AccountNotFoundError'
  override readonly name = 'AccountNotFoundError'
}

/** A change that would leave the server without an admin (removing or demoting the last one). */
export class LastAdminError extends CidcastError {
  static override readonly code: string = 'LastAdminError'
  override readonly name = 'LastAdminError'
}

/** A join token that is not one (`cidcast-node join`): cut short, mistyped, or of another kind. */
export class JoinTokenInvalidError extends CidcastError {
  static override readonly code: string = 'JoinTokenInvalidError'
  override readonly name = 'JoinTokenInvalidError'
}

/** A node invitation that does not exist, or whose secret does not match (the message never says which). */
export class InvitationNotFoundError extends CidcastError {
  static override readonly code: string = 'InvitationNotFoundError'
  override readonly name = 'InvitationNotFoundError'
}

/** A node invitation past its expiry. */
export class InvitationExpiredError extends CidcastError {
  static override readonly code: string = 'InvitationExpiredError'
  override readonly name = 'InvitationExpiredError'
}

/** A node invitation another node has spent already. */
export class InvitationSpentError extends CidcastError {
  static override readonly code: string = 'InvitationSpentError'
  override readonly name = 'InvitationSpentError'
}

/** A node invitation an admin revoked. */
export class InvitationRevokedError extends CidcastError {
  static override readonly code: string = 'InvitationRevokedError'
  override readonly name = 'InvitationRevokedError'
}
