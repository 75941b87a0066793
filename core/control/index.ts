/*
 * core/control: the protocol between CDN nodes and the main server (ARCHITECTURE.md, "Control plane"): its
 * messages and their validation (served reports: their bounds in served-clamp.ts), the wire, the node's client, the server's handler, the orders nudge, node names
 * and labels, and the revocation gater. Both sides use it; of other rooms it imports only core/hls (the media id and
 * profile names an order may carry). Other folders import this file only.
 */

export { CONTROL_PROTOCOL, CONTROL_VERSION, CONTROL_VERSION_MIN, MAX_CONTROL_MESSAGE_BYTES, MAX_MAIN_SERVERS, MAX_PREFETCH_ORDERS, MAX_PREFETCH_SEGMENTS, MAX_SERVED_REPORTS, ORDERS_PROTOCOL, PIN_PROGRESS_INTERVAL_MS } from './messages.ts'
export type {
  ControlReply, ControlRequest, ErrorReply, HeartbeatReply, HeartbeatRequest, NodeCapacity, NodeHealth, NodeMode,
  OrdersPending, PinOrder, PinOrderMedia, PinProvider, PinReport, PinReportState, PrefetchOrder, RegisterReply, RegisterRequest,
  ServedReport, StreamAccessGrant, StreamKeyRecord, MainServerAddress
} from './messages.ts'
export { checkOwnerName, checkRegion, checkTags, MAX_ADDRESSES, MAX_PIN_REPORTS, MAX_PINNED, MAX_STREAM_KEYS, MAX_TAGS, USER_NAME } from './validate.ts'
export { clampServed, MAX_NODE_REQUESTS_PER_SECOND, MAX_NODE_UPLINK_BYTES_PER_SECOND } from './served-clamp.ts'
export type { ServedLimits } from './served-clamp.ts'
export { createControlClient } from './client.ts'
export type { ControlClient, ControlClientComponents, ControlClientInit } from './client.ts'
export { createControlServer } from './server.ts'
export type { ControlHandler, ControlServer, ControlServerComponents, ControlServerInit } from './server.ts'
export { ipnsNameOf } from './identity.ts'
export { handleOrderNudges, nudgeNode } from './orders-nudge.ts'
export type { OrderNudgeHandlerComponents } from './orders-nudge.ts'
export { checkNodeName, findNode, labelFromName, uniqueLabel } from './labels.ts'
export { createRevocationGater } from './revocation-gater.ts'
export type { RevocationGater, RevocationGaterInit } from './revocation-gater.ts'
export {
  ControlRefusedError, ControlTimeoutError, ControlVersionError, ForbiddenError, InvalidControlMessageError, InvalidNodeNameError,
  IpnsMismatchError, NodeNotFoundError, NodeNotRegisteredError, NodeRevokedError, PeerIdMismatchError, UnknownOwnerError
} from './errors.ts'
export { DEMAND_PROTOCOL, parseDemandEvent, RELAY_PROTOCOL, relayDemand, relayToLeader, serveControlRelay, serveDemandRelay } from './relay.ts'
export type { ControlRelayComponents, DemandEvent, RelayServerComponents } from './relay.ts'
export { parseMainServers } from './validate.ts'
