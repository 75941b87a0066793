import { CidcastError } from '../errors.ts'

/*
 * The pinner's own error conditions (core/edge/pinner.ts), in the pattern of core/errors.ts: told apart by
 * `name`. They travel to the main server as `{ name, message }` in heartbeat pin reports, so the message always
 * says why, in words a user can act on.
 */

/** No block of the DAG arrived for a while, from any connected peer: nobody that has the blocks is reachable. */
export class PinStalledError extends CidcastError {
  static override readonly code: string = 'PinStalledError'
  override readonly name = 'PinStalledError'
}

/** None of the providers an order named could be dialled, and no other peer is connected. */
export class NoProviderReachableError extends CidcastError {
  static override readonly code: string = 'NoProviderReachableError'
  override readonly name = 'NoProviderReachableError'
}

/** A pin was stopped before it finished: an unpin order for the same root, or the node stopping. */
export class PinCancelledError extends CidcastError {
  static override readonly code: string = 'PinCancelledError'
  override readonly name = 'PinCancelledError'
}

/** An order the node cannot carry out as given (a malformed CID, an unknown action). */
export class InvalidPinOrderError extends CidcastError {
  static override readonly code: string = 'InvalidPinOrderError'
  override readonly name = 'InvalidPinOrderError'
}
