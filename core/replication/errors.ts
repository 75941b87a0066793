import { CidcastError } from '../errors.ts'

/*
 * The replication's error conditions, in the pattern of core/errors.ts (told apart by `name`). Their HTTP
 * statuses are in gateway/middleware/error-status.ts.
 */

/** `--replicas MIN[:MAX]` cannot be met; the message names every node left out and why. */
export class UnderReplicatedError extends CidcastError {
  static override readonly code: string = 'UnderReplicatedError'
  override readonly name = 'UnderReplicatedError'
}

/** A media has no finished rendition (no root CID) to replicate yet, or the CID is held by nobody. */
export class NothingToReplicateError extends CidcastError {
  static override readonly code: string = 'NothingToReplicateError'
  override readonly name = 'NothingToReplicateError'
}

/** No node holds or is ordered to hold that root (nothing to unpin or show). */
export class PinNotFoundError extends CidcastError {
  static override readonly code: string = 'PinNotFoundError'
  override readonly name = 'PinNotFoundError'
}
