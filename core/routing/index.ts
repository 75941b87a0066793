/*
 * core/routing: node names and Delegated Routing V1: IPNS records (signing, validation, selection), the main
 * server's record store, the node's manifest and its publisher, and the provider and peer sources the routing API
 * answers from. Other folders import this file only.
 */

export { IPNS_RECORD_CONTENT_TYPE, MAX_IPNS_RECORD_BYTES, parseIpnsName, signIpnsRecord, validateIpnsRecord } from './ipns-records.ts'
export type { IpnsName, IpnsRecordView } from './ipns-records.ts'
export { createIpnsRecordStore } from './ipns-store.ts'
export { LOCAL_RECORDS_HEADER, withPeerRecords } from './ipns-peers.ts'
export type { IpnsPutResult, IpnsRecordStore, IpnsRecordStoreComponents, IpnsRecordStoreInit } from './ipns-store.ts'
export { readManifest } from './manifest.ts'
export type { NodeManifest, NodeManifestInput } from './manifest.ts'
export { createIpnsPublisher } from './publisher.ts'
export type { IpnsPublisher, IpnsPublisherComponents, IpnsPublisherInit, ManifestFields, PublishedState } from './publisher.ts'
export { acceptNodeNames, noRecords, peersFromNodes } from './sources.ts'
export type { PeerSource, ProviderSource, RoutableNode, RoutingPeer } from './sources.ts'
