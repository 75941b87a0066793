/**
 * Every error a user can cause has its own class, told apart by `name` (never by message text).
 * The gateway maps names to HTTP statuses in one place; the CLI prints `name: message` on one line.
 */

/** Base for errors whose message is safe to show to a user. */
export class CidcastError extends Error {
  static readonly code: string = 'CidcastError'
}

function defineError (name: string): typeof CidcastError {
  const Class = class extends CidcastError {
    override readonly name = name
  }
  Object.defineProperty(Class, 'name', { value: name })
  return Class
}

export const MediaNotFoundError = defineError('MediaNotFoundError')
export const ProfileNotFoundError = defineError('ProfileNotFoundError')
export const SegmentNotFoundError = defineError('SegmentNotFoundError')
export const UnsupportedMediaError = defineError('UnsupportedMediaError')
export const InvalidMediaError = defineError('InvalidMediaError')
export const InvalidPathError = defineError('InvalidPathError')
export const PathNotFoundError = defineError('PathNotFoundError')
export const InvalidCIDError = defineError('InvalidCIDError')
export const ContentNotFoundError = defineError('ContentNotFoundError')
export const NotCachedError = defineError('NotCachedError')
export const InvalidRequestError = defineError('InvalidRequestError')
export const RangeNotSatisfiableError = defineError('RangeNotSatisfiableError')
export const NotAcceptableError = defineError('NotAcceptableError')
export const InvalidConfigError = defineError('InvalidConfigError')
export const InvalidSwarmKeyError = defineError('InvalidSwarmKeyError')
export const SwarmKeyExistsError = defineError('SwarmKeyExistsError')
export const DataFolderLockedError = defineError('DataFolderLockedError')
export const TranscodeFailedError = defineError('TranscodeFailedError')
export const TooManySessionsError = defineError('TooManySessionsError')
export const ServerUnreachableError = defineError('ServerUnreachableError')
export const InvalidIpnsNameError = defineError('InvalidIpnsNameError')
export const InvalidIpnsRecordError = defineError('InvalidIpnsRecordError')
export const IpnsRecordExpiredError = defineError('IpnsRecordExpiredError')
export const IpnsRecordTooLargeError = defineError('IpnsRecordTooLargeError')
export const StaleIpnsRecordError = defineError('StaleIpnsRecordError')
export const IpnsNameNotAllowedError = defineError('IpnsNameNotAllowedError')
export const IpnsRecordNotFoundError = defineError('IpnsRecordNotFoundError')
export const RoutingRecordNotFoundError = defineError('RoutingRecordNotFoundError')

/** The HTTP status each user-facing error maps to; anything else is a 500. */
export const HTTP_STATUS: Readonly<Record<string, number>> = {
  MediaNotFoundError: 404,
  ProfileNotFoundError: 404,
  SegmentNotFoundError: 404,
  ContentNotFoundError: 404,
  PathNotFoundError: 404,
  UnsupportedMediaError: 415,
  InvalidMediaError: 422,
  InvalidPathError: 400,
  InvalidCIDError: 400,
  InvalidRequestError: 400,
  NotCachedError: 412,
  RangeNotSatisfiableError: 416,
  NotAcceptableError: 406,
  TooManySessionsError: 503,
  TranscodeFailedError: 502,
  // a CDN node's own conditions (core/edge/errors.ts)
  OriginUnavailableError: 502,
  UnverifiedContentError: 502,
  DataFolderFullError: 507,
  InvalidIpnsNameError: 400,
  InvalidIpnsRecordError: 400,
  IpnsRecordExpiredError: 400,
  IpnsRecordTooLargeError: 413,
  // a valid record that is not better than the one kept: the spec lists no code for it, 409 says "conflicts with current state"
  StaleIpnsRecordError: 409,
  IpnsNameNotAllowedError: 403,
  IpnsRecordNotFoundError: 404,
  RoutingRecordNotFoundError: 404,
  // the node registry (core/control/errors.ts)
  NodeNotFoundError: 404,
  ForbiddenError: 403,
  NodeRevokedError: 403,
  // replication (core/replication/errors.ts)
  UnderReplicatedError: 409,
  NothingToReplicateError: 409,
  PinNotFoundError: 404,
  // metadata (core/metadata/errors.ts)
  SeriesNotFoundError: 404,
  CollectionNotFoundError: 404,
  AuditEntryNotFoundError: 404,
  NoProviderError: 409
}
