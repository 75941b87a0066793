/**
 * The control protocol between CDN nodes and the main server (ARCHITECTURE.md, "Control plane"): length-prefixed
 * JSON messages on a libp2p stream of protocol CONTROL_PROTOCOL, over the private network's connections. A node opens
 * a stream, sends one request and reads one reply. The sender's identity is the connection's remote peer ID
 * (proven by the noise handshake); no message carries a peer ID of its own, and one that claims to is refused.
 */

export const CONTROL_PROTOCOL = '/cidcast/control/1.0.0'
/** Largest control message accepted, either way. */
export const MAX_CONTROL_MESSAGE_BYTES = 256 * 1024

/** `shared`: listed and serves anyone; `local`: loopback only, never listed, serves only its owner. */
export type NodeMode = 'shared' | 'local'

/** Space of a node's data folder, in bytes. */
export interface NodeCapacity {
  quotaBytes: number
  usedBytes: number
  freeBytes: number
}

/** How a node is doing, as it reports itself. */
export interface NodeHealth {
  uptimeSeconds: number
  load1: number
  activeStreams: number
  bytesServed: number
  errors: number
  /** The data folder is full: new pins are refused. */
  full: boolean
}

export interface RegisterRequest {
  type: 'register'
  /** Wanted name (sanitized by the server into a DNS label). */
  name: string
  mode: NodeMode
  /** The node's HTTP gateway URL. */
  url: string
  /** The node's libp2p multiaddrs (strings). */
  addresses: string[]
  /** The node's IPNS name (`k51...`), derived from its peer key. */
  ipns: string
  capacity: NodeCapacity
}

export interface RegisterReply {
  type: 'registered'
  /** The DNS label assigned (unique, stable for this peer). */
  label: string
  /** `<label>.<zone>` */
  dnsName: string
  /** Seconds between heartbeats the server expects. */
  heartbeatSeconds: number
}

export interface HeartbeatRequest {
  type: 'heartbeat'
  capacity: NodeCapacity
  health: NodeHealth
  /** Root CIDs the node holds pinned. */
  pinned: string[]
}

export interface HeartbeatReply {
  type: 'ok'
}

export interface ErrorReply {
  type: 'error'
  error: string
  message: string
}

export type ControlRequest = RegisterRequest | HeartbeatRequest
export type ControlReply = RegisterReply | HeartbeatReply | ErrorReply
