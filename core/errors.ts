/**
 * Every error a user can cause has its own class, told apart by `name` (never by message text). Core knows nothing
 * of HTTP: the gateway maps names to statuses in one table (gateway/middleware/error-status.ts); the CLI prints
 * `name: message` on one line.
 */

/** Base for errors whose message is safe to show to a user. */
export class CidcastError extends Error {
  static readonly code: string = 'CidcastError'
}

/** No media has the given id. */
export class MediaNotFoundError extends CidcastError {
  static override readonly code: string = 'MediaNotFoundError'
  override readonly name = 'MediaNotFoundError'
}

/** The media has no rendition profile of that name. */
export class ProfileNotFoundError extends CidcastError {
  static override readonly code: string = 'ProfileNotFoundError'
  override readonly name = 'ProfileNotFoundError'
}

/** A segment index outside the rendition, or one that is not a number. */
export class SegmentNotFoundError extends CidcastError {
  static override readonly code: string = 'SegmentNotFoundError'
  override readonly name = 'SegmentNotFoundError'
}

/** A file ffprobe reads but cidcast cannot stream (no audio or video stream it can use). */
export class UnsupportedMediaError extends CidcastError {
  static override readonly code: string = 'UnsupportedMediaError'
  override readonly name = 'UnsupportedMediaError'
}

/** A file that is not media at all, empty or truncated. */
export class InvalidMediaError extends CidcastError {
  static override readonly code: string = 'InvalidMediaError'
  override readonly name = 'InvalidMediaError'
}

/** A path that is not absolute, not a file or folder, or not allowed. */
export class InvalidPathError extends CidcastError {
  static override readonly code: string = 'InvalidPathError'
  override readonly name = 'InvalidPathError'
}

/** A path that does not exist. */
export class PathNotFoundError extends CidcastError {
  static override readonly code: string = 'PathNotFoundError'
  override readonly name = 'PathNotFoundError'
}

/** A string that does not parse as a CID. */
export class InvalidCIDError extends CidcastError {
  static override readonly code: string = 'InvalidCIDError'
  override readonly name = 'InvalidCIDError'
}

/** Content that is neither held here nor reachable. */
export class ContentNotFoundError extends CidcastError {
  static override readonly code: string = 'ContentNotFoundError'
  override readonly name = 'ContentNotFoundError'
}

/** Content not held here, asked for with `Cache-Control: only-if-cached`. */
export class NotCachedError extends CidcastError {
  static override readonly code: string = 'NotCachedError'
  override readonly name = 'NotCachedError'
}

/** A request with a missing, malformed or out-of-range parameter. */
export class InvalidRequestError extends CidcastError {
  static override readonly code: string = 'InvalidRequestError'
  override readonly name = 'InvalidRequestError'
}

/** A request body in a type or character set the API does not read (it reads JSON in UTF-8). */
export class UnsupportedMediaTypeError extends CidcastError {
  static override readonly code: string = 'UnsupportedMediaTypeError'
  override readonly name = 'UnsupportedMediaTypeError'
}

/** A request body larger than the API accepts. */
export class BodyTooLargeError extends CidcastError {
  static override readonly code: string = 'BodyTooLargeError'
  override readonly name = 'BodyTooLargeError'
}

/** A byte range outside the content. */
export class RangeNotSatisfiableError extends CidcastError {
  static override readonly code: string = 'RangeNotSatisfiableError'
  override readonly name = 'RangeNotSatisfiableError'
}

/** No representation matches the `Accept` header or `format` asked for. */
export class NotAcceptableError extends CidcastError {
  static override readonly code: string = 'NotAcceptableError'
  override readonly name = 'NotAcceptableError'
}

/** A configuration value that is refused at start; the message names the key. */
export class InvalidConfigError extends CidcastError {
  static override readonly code: string = 'InvalidConfigError'
  override readonly name = 'InvalidConfigError'
}

/** A swarm key file that is not a Kubo `/key/swarm/psk/1.0.0/` key. */
export class InvalidSwarmKeyError extends CidcastError {
  static override readonly code: string = 'InvalidSwarmKeyError'
  override readonly name = 'InvalidSwarmKeyError'
}

/** `init` found a swarm key and will not overwrite it. */
export class SwarmKeyExistsError extends CidcastError {
  static override readonly code: string = 'SwarmKeyExistsError'
  override readonly name = 'SwarmKeyExistsError'
}

/** Another daemon holds the data folder. */
export class DataFolderLockedError extends CidcastError {
  static override readonly code: string = 'DataFolderLockedError'
  override readonly name = 'DataFolderLockedError'
}

/** A data folder that belongs to another private network (its swarm.key is another), where a node was to join one. */
export class DataFolderTakenError extends CidcastError {
  static override readonly code: string = 'DataFolderTakenError'
  override readonly name = 'DataFolderTakenError'
}

/** A port the user set (flag, environment, config file) is held by another program. */
export class PortInUseError extends CidcastError {
  static override readonly code: string = 'PortInUseError'
  override readonly name = 'PortInUseError'
}

/** ffmpeg failed to make a segment. */
export class TranscodeFailedError extends CidcastError {
  static override readonly code: string = 'TranscodeFailedError'
  override readonly name = 'TranscodeFailedError'
}

/** Every ffmpeg session is busy with viewers. */
export class TooManySessionsError extends CidcastError {
  static override readonly code: string = 'TooManySessionsError'
  override readonly name = 'TooManySessionsError'
}

/** The main server did not answer. */
export class ServerUnreachableError extends CidcastError {
  static override readonly code: string = 'ServerUnreachableError'
  override readonly name = 'ServerUnreachableError'
}

/** A string that is not an IPNS name (a libp2p-key CID). */
export class InvalidIpnsNameError extends CidcastError {
  static override readonly code: string = 'InvalidIpnsNameError'
  override readonly name = 'InvalidIpnsNameError'
}

/** An IPNS record that does not parse or whose signature does not verify. */
export class InvalidIpnsRecordError extends CidcastError {
  static override readonly code: string = 'InvalidIpnsRecordError'
  override readonly name = 'InvalidIpnsRecordError'
}

/** An IPNS record past its validity. */
export class IpnsRecordExpiredError extends CidcastError {
  static override readonly code: string = 'IpnsRecordExpiredError'
  override readonly name = 'IpnsRecordExpiredError'
}

/** An IPNS record over the size limit. */
export class IpnsRecordTooLargeError extends CidcastError {
  static override readonly code: string = 'IpnsRecordTooLargeError'
  override readonly name = 'IpnsRecordTooLargeError'
}

/** A valid IPNS record that is not better than the one kept. */
export class StaleIpnsRecordError extends CidcastError {
  static override readonly code: string = 'StaleIpnsRecordError'
  override readonly name = 'StaleIpnsRecordError'
}

/** An IPNS name this server does not keep records for. */
export class IpnsNameNotAllowedError extends CidcastError {
  static override readonly code: string = 'IpnsNameNotAllowedError'
  override readonly name = 'IpnsNameNotAllowedError'
}

/** No record is kept for the IPNS name. */
export class IpnsRecordNotFoundError extends CidcastError {
  static override readonly code: string = 'IpnsRecordNotFoundError'
  override readonly name = 'IpnsRecordNotFoundError'
}

/** The routing API knows no providers or peer for the key. */
export class RoutingRecordNotFoundError extends CidcastError {
  static override readonly code: string = 'RoutingRecordNotFoundError'
  override readonly name = 'RoutingRecordNotFoundError'
}

/** A write refused for lack of space (the disk of the data folder is full, or a quota is reached); the message says what was not written. */
export class DiskFullError extends CidcastError {
  static override readonly code: string = 'DiskFullError'
  override readonly name = 'DiskFullError'
}

/** A request to a node's setup page that is not from this machine, not for its address, or not from the page itself. */
export class SetupForbiddenError extends CidcastError {
  static override readonly code: string = 'SetupForbiddenError'
  override readonly name = 'SetupForbiddenError'
}

/**
 * Several main servers share the catalog and none leads right now (the leader just died and another has not taken
 * over yet, or the database is unreachable): what only the leader does must wait a few seconds.
 */
export class LeaderUnavailableError extends CidcastError {
  static override readonly code = 'LeaderUnavailableError'
  override readonly name = 'LeaderUnavailableError'
  /** A failover takes a beat or two. */
  readonly retryAfterSeconds = 5
}
