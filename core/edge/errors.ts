import { CidcastError } from '../errors.ts'

/*
 * A CDN node's own error conditions, in the pattern of core/errors.ts (told apart by `name`). Their HTTP statuses
 * are in gateway/middleware/error-status.ts.
 */

/** The main server could not be reached (or did not answer in time) and nothing held here answers instead. */
export class OriginUnavailableError extends CidcastError {
  static override readonly code: string = 'OriginUnavailableError'
  override readonly name = 'OriginUnavailableError'
  /** The main server gave no answer at all (no connection, or no reply within the deadline), not a failing one. */
  silent = false
}

/** Bytes fetched from the origin or a peer do not hash to the CID they were asked for: never served. */
export class UnverifiedContentError extends CidcastError {
  static override readonly code: string = 'UnverifiedContentError'
  override readonly name = 'UnverifiedContentError'
}

/** The node's data folder has reached its quota (or the disk is full): no new pins, no new cached blocks. */
export class DataFolderFullError extends CidcastError {
  static override readonly code: string = 'DataFolderFullError'
  override readonly name = 'DataFolderFullError'
}

/** No private-network connection to the main server could be made (it is down, or unreachable from here). */
export class ServerDialFailedError extends CidcastError {
  static override readonly code: string = 'ServerDialFailedError'
  override readonly name = 'ServerDialFailedError'
}

/** The main server answers over HTTP but its private network refused this node: another swarm key, or a revoked node. */
export class PrivateNetworkRefusedError extends CidcastError {
  static override readonly code: string = 'PrivateNetworkRefusedError'
  override readonly name = 'PrivateNetworkRefusedError'
}

/** The node's data folder has no swarm key and none was given. */
export class SwarmKeyMissingError extends CidcastError {
  static override readonly code: string = 'SwarmKeyMissingError'
  override readonly name = 'SwarmKeyMissingError'
}
