import { CidcastError } from '../errors.ts'

/*
 * The control protocol's and the node registry's error conditions, in the pattern of core/errors.ts (told apart by
 * `name`, never by message). The control server sends `{ type: 'error', error: name, message }`; the control
 * client throws the class of the same name, so a node can tell "register again" (NodeNotRegisteredError) from "you
 * are banned" (NodeRevokedError). Their HTTP statuses are in gateway/middleware/error-status.ts.
 */

/** A control message is not JSON, too large, or has a field of the wrong type, length or range. */
export class InvalidControlMessageError extends CidcastError {
  static override readonly code: string = 'InvalidControlMessageError'
  override readonly name = 'InvalidControlMessageError'
}

/** A node name has control characters or is longer than the limit. */
export class InvalidNodeNameError extends CidcastError {
  static override readonly code: string = 'InvalidNodeNameError'
  override readonly name = 'InvalidNodeNameError'
}

/** A control message claims a peer ID other than the one that proved itself on the connection. */
export class PeerIdMismatchError extends CidcastError {
  static override readonly code: string = 'PeerIdMismatchError'
  override readonly name = 'PeerIdMismatchError'
}

/** A node's IPNS name is not the one derived from its peer ID. */
export class IpnsMismatchError extends CidcastError {
  static override readonly code: string = 'IpnsMismatchError'
  override readonly name = 'IpnsMismatchError'
}

/** The peer ID was revoked: it may neither connect nor register. */
export class NodeRevokedError extends CidcastError {
  static override readonly code: string = 'NodeRevokedError'
  override readonly name = 'NodeRevokedError'
}

/** A heartbeat from a peer the registry does not know: the node should register (again). */
export class NodeNotRegisteredError extends CidcastError {
  static override readonly code: string = 'NodeNotRegisteredError'
  override readonly name = 'NodeNotRegisteredError'
}

/** A node's registration names an owner (`--owner USER`) the main server has no user of. */
export class UnknownOwnerError extends CidcastError {
  static override readonly code: string = 'UnknownOwnerError'
  override readonly name = 'UnknownOwnerError'
}

/** No registered node has that name, label or peer ID. */
export class NodeNotFoundError extends CidcastError {
  static override readonly code: string = 'NodeNotFoundError'
  override readonly name = 'NodeNotFoundError'
}

/** The request is understood but not allowed from where it came (revocation from a non-loopback address). */
export class ForbiddenError extends CidcastError {
  static override readonly code: string = 'ForbiddenError'
  override readonly name = 'ForbiddenError'
}

/** The other side did not answer a control request in time. */
export class ControlTimeoutError extends CidcastError {
  static override readonly code: string = 'ControlTimeoutError'
  override readonly name = 'ControlTimeoutError'
}

/** The server refused a control request for a reason this client has no class for (`code` holds its name). */
export class ControlRefusedError extends CidcastError {
  static override readonly code: string = 'ControlRefusedError'
  override readonly name = 'ControlRefusedError'
}

/** Classes a control error reply is turned back into, by name. */
/** A node and a main server that do not speak a common version of the control protocol; says which to upgrade. */
export class ControlVersionError extends CidcastError {
  static override readonly code: string = 'ControlVersionError'
  override readonly name = 'ControlVersionError'
}

export const CONTROL_ERRORS: Readonly<Record<string, new (message: string) => CidcastError>> = {
  ControlVersionError,
  InvalidControlMessageError,
  InvalidNodeNameError,
  PeerIdMismatchError,
  IpnsMismatchError,
  NodeRevokedError,
  NodeNotRegisteredError,
  UnknownOwnerError
}
