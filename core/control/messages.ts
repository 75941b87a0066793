/**
 * The control protocol between CDN nodes and the main server (ARCHITECTURE.md, "Control plane"): length-prefixed
 * JSON messages on a libp2p stream of protocol CONTROL_PROTOCOL, over the private network's connections. A node opens
 * a stream, sends one request and reads one reply. The sender's identity is the connection's remote peer ID
 * (proven by the noise handshake); no message carries a peer ID of its own, and one that claims to is refused.
 */

export const CONTROL_PROTOCOL = '/cidcast/control/1.0.0'
/**
 * The version of the messages on CONTROL_PROTOCOL, sent with every registration (`protocol`; none: 1). A main server
 * takes nodes from CONTROL_VERSION_MIN to CONTROL_VERSION and refuses the others with ControlVersionError naming
 * which side to upgrade; a change a node of the previous version would misread raises CONTROL_VERSION, and dropping
 * a version raises CONTROL_VERSION_MIN.
 */
export const CONTROL_VERSION = 1
export const CONTROL_VERSION_MIN = 1
/**
 * Largest control message accepted, either way: room for a heartbeat at every list's limit (4096 pinned roots,
 * 1024 pin reports, MAX_SERVED_REPORTS served reports).
 */
export const MAX_CONTROL_MESSAGE_BYTES = 1024 * 1024
/** Most served reports one heartbeat carries; a node keeps the rest for its next beat (the largest by bytes go first). */
export const MAX_SERVED_REPORTS = 512

/** `shared`: listed and serves anyone; `local`: loopback only, listed to its owner alone, serves only its owner. */
export type NodeMode = 'shared' | 'local'

/** Space of a node's data folder, in bytes. */
export interface NodeCapacity {
  quotaBytes: number
  usedBytes: number
  freeBytes: number
  /** The budget of blocks kept from fallback answers (within the quota); absent from nodes that have none. */
  cacheBytes?: number
  /** Bytes of the files kept from fallback answers now (the cache's share of `usedBytes`). */
  cacheUsedBytes?: number
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
  /**
   * The user NAME of the node's owner (`--owner USER`): the main server resolves it to the user's id, or refuses the
   * registration with UnknownOwnerError. A `local` node serves its owner alone (none: nobody); a `shared` one shows it.
   */
  owner?: string
  /** Where the node is (`--region`): 1-32 of a-z, 0-9 and -, for placement to spread copies over regions. */
  region?: string
  /** Free labels of the node (`--tags`): at most 8, each as a region. */
  tags?: string[]
  /** The node's cidcast version (shown on the Nodes page). */
  version?: string
  /** The control messages' version it speaks (CONTROL_VERSION); none: 1. */
  protocol?: number
}

export interface RegisterReply {
  type: 'registered'
  /** The DNS label assigned (unique, stable for this peer). */
  label: string
  /** `<label>.<zone>` */
  dnsName: string
  /** Seconds between heartbeats the server expects. */
  heartbeatSeconds: number
  /** What the node needs to check stream tokens, and its own credential (a server that signs none sends nothing). */
  access?: StreamAccessGrant
  /**
   * Every live main server sharing the catalog (issue 15), the one that answers among them: the node registers with
   * another when its own stops answering. Absent from a server that runs alone and does not say.
   */
  servers?: MainServerAddress[]
}

/** Where one main server answers: its peer, its libp2p addresses and its HTTP API. */
export interface MainServerAddress {
  peerId: string
  /** Multiaddrs (strings). */
  addresses: string[]
  /** Its HTTP API, `http(s)://host:port`. */
  url: string
}

/** Most main servers a reply names. */
export const MAX_MAIN_SERVERS = 16

/** One public stream key of the main server (core/access's StreamPublicKey, checked there again before use). */
export interface StreamKeyRecord {
  /** 16 hex digits: the first 8 bytes of sha256 of the raw public key. */
  id: string
  /** The raw 32-byte Ed25519 public key, base64url. */
  publicKey: string
  /** When a rotated-out key stops being accepted (ISO 8601); absent while it signs. */
  expiresAt?: string
}

/**
 * Stream access (issue 11), in every register and heartbeat reply, so a rotated key reaches a node within one
 * heartbeat: the keys a node verifies viewers' stream tokens with (offline, kept on its disk), whether the main
 * server's media are public, and the node's own credential for fetching from other nodes and from the main server.
 */
export interface StreamAccessGrant {
  /** Every key still accepted, current first. */
  keys: StreamKeyRecord[]
  /** Media need no stream token (the main server's `publicMedia`). */
  publicMedia: boolean
  /** This node's credential (core/access/node-credential.ts) and when it ends (ISO 8601). */
  credential?: { token: string, expiresAt: string }
  /** The user id of the node's owner, as the main server resolved it; absent when the node has none. */
  owner?: string
}

export interface HeartbeatRequest {
  /** The id of the `served` batch: a batch sent again after a failed beat keeps it, so the server counts it once. */
  servedBatch?: string
  type: 'heartbeat'
  capacity: NodeCapacity
  health: NodeHealth
  /** Root CIDs the node holds pinned. */
  pinned: string[]
  /** Orders the node is running, and each finished order's final state (see PinReport). */
  pins?: PinReport[]
  /**
   * What the node's gateway served (`/media`, `/ipfs`) since the last heartbeat the server acknowledged, per
   * rendition root (issue #13, demand signals). A failed beat's counts travel with the next one; at most
   * MAX_SERVED_REPORTS entries, the largest by bytes first.
   */
  served?: ServedReport[]
}

/**
 * What a node served of one rendition root (or, while the node does not know the root yet, of one media's profile;
 * of a media alone for its master playlist), since the last acknowledged heartbeat. Counts are whole numbers; the
 * server clamps what a node could not have served (core/control/served-clamp.ts).
 */
export interface ServedReport {
  /** The rendition root (or, for `/ipfs`, the root CID of the path). */
  root?: string
  /** The media id, when the root is not known (a `/media` answer); the profile too, for a rendition's files. */
  media?: string
  profile?: string
  /** Answers given (redirects included; answers refused for a bad request or credential are not counted). */
  requests: number
  /** Body bytes written to viewers: `local + peer + origin` (a range counts what was sent; redirects send none). */
  bytes: number
  /** Of `bytes`: from the node's own blocks, pulled from peers, fetched from the origin on a miss. */
  local: number
  peer: number
  origin: number
  /** Answers that sent the viewer to the origin. */
  redirects: number
  /** Distinct viewers (a stream token's user, else the remote address), counted by the node from salted hashes. */
  viewers: number
  /** Epoch milliseconds of the first and the last answer counted. */
  firstAt: number
  lastAt: number
}

export interface HeartbeatReply {
  type: 'ok'
  /** Orders for this node; repeated in every reply until the node reports a final state for their orderId. */
  orders?: PinOrder[]
  /** As in RegisterReply: the keys and the credential, every beat. */
  access?: StreamAccessGrant
  /** Pre-cache orders (issue 13): each is given once; the node carries it out when it can, and may drop it. */
  prefetch?: PrefetchOrder[]
  /** As in RegisterReply: every live main server. */
  servers?: MainServerAddress[]
}

/** Most pre-cache orders one heartbeat reply may carry, and most segments one may ask. */
export const MAX_PREFETCH_ORDERS = 16
export const MAX_PREFETCH_SEGMENTS = 1800

/**
 * The first `segments` segments of a media's rendition (with its playlists and init segment), which a viewer of this
 * node is likely to start soon (the next episode): fetched at low priority through the node's own miss path, kept
 * in its cache (evictable, dropped first under pressure), never pinned.
 */
export interface PrefetchOrder {
  /** The media id (16 hex digits). */
  id: string
  /** The rendition's profile name. */
  profile: string
  segments: number
}

/*
 * Replication orders (issue #4). The main server keeps the content index; nodes only ever do what an order says
 * and report what happened. Delivery:
 * - Orders travel in HeartbeatReply.orders. The server repeats an order in every reply until a heartbeat reports
 *   a final state (`pinned`, `failed`, `unpinned`) for its orderId; a node therefore treats an orderId it already
 *   knows as the same order (it reports its state again, it does not start over).
 * - Promptness: when it has a new order for a node, the server opens a stream of ORDERS_PROTOCOL to it and sends
 *   `{ type: 'orders-pending' }`; the node answers `{ type: 'ok' }` and sends a heartbeat at once (only when the
 *   stream comes from the main server it registered with). A lost nudge costs at most one heartbeat interval.
 * - Progress: while a node has orders queued or running, it heartbeats every PIN_PROGRESS_INTERVAL_MS instead of
 *   every `heartbeatSeconds`, each heartbeat carrying `pins`. A finished order's final state is reported in at least
 *   the next heartbeat, and again whenever the server repeats that order.
 * - An order for a root the node already holds (pin) or does not hold (unpin) finishes at once with that state.
 */

/** Server -> node stream on which the main server says "orders are waiting, send a heartbeat now". */
export const ORDERS_PROTOCOL = '/cidcast/orders/1.0.0'
/** Heartbeat interval while a node has orders queued or running. */
export const PIN_PROGRESS_INTERVAL_MS = 1000

/** A peer that holds (or is fetching) a root, with addresses to dial it inside the private network. */
export interface PinProvider {
  peerId: string
  /** Multiaddrs (strings), without or with a `/p2p/<peerId>` suffix. */
  addrs: string[]
  /**
   * Base URL of its trustless gateway (`{gateway}/ipfs/{cid}?format=raw`), for holders that serve others (the main
   * server, shared nodes). The pinner asks it before bitswap; every block is hashed either way.
   */
  gateway?: string
}

export interface PinOrder {
  /** Root CID of a rendition (or any DAG the main server holds). */
  cid: string
  action: 'pin' | 'unpin'
  /** Unique per order, chosen by the server ([A-Za-z0-9_-], at most 64). A retry gets a new one. */
  orderId: string
  /** Peers to fetch from (the main server and nodes that hold the root), best first. Every block is hashed on arrival. */
  providers?: PinProvider[]
  /** Size of the DAG when the server knows it, so a node can refuse early when it has no room. */
  bytesTotal?: number
  blocksTotal?: number
  /**
   * A pin of a media's rendition: which media and profile it is, and the media's own directory (`master.m3u8`
   * over its finished renditions, each under its profile name), so the node can serve `/media/{id}/...` from what it
   * holds when the main server is gone. Absent for a root that is no rendition of a media.
   */
  media?: PinOrderMedia
  /**
   * Placed by the main server's distributor on its own (issue 13): the root counts in the node's cache budget, and
   * the distributor may unpin it again when demand moves. Absent for a pin someone asked for.
   */
  auto?: boolean
}

/** What a pin order says of the media a rendition root belongs to. */
export interface PinOrderMedia {
  /** The media id (16 hex digits). */
  id: string
  /** The rendition's profile name; the media directory links the order's root under it. */
  profile: string
  /** CID of the media directory when the order was sent. */
  root: string
}

/** Where a node is with one order. `unpinned` ends an unpin; `pinned` and `failed` end a pin. */
export type PinReportState = 'queued' | 'pinning' | 'pinned' | 'failed' | 'unpinning' | 'unpinned'

export interface PinReport {
  cid: string
  orderId: string
  state: PinReportState
  blocksDone: number
  bytesDone: number
  /** Once the node knows them (after walking the DAG). */
  blocksTotal?: number
  bytesTotal?: number
  /** Why it failed (state `failed`), or the last transient error while it retries (e.g. no provider answers yet). */
  error?: { name: string, message: string }
}

/** The message on an ORDERS_PROTOCOL stream (server -> node); the node answers `{ type: 'ok' }`. */
export interface OrdersPending {
  type: 'orders-pending'
}

export interface ErrorReply {
  type: 'error'
  error: string
  message: string
}

export type ControlRequest = RegisterRequest | HeartbeatRequest
export type ControlReply = RegisterReply | HeartbeatReply | ErrorReply
