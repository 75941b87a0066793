/*
 * core/dns: the main server's DNS zone: its records from a snapshot of the nodes (pure) and the authoritative
 * server over UDP and TCP. Other folders import this file only.
 */

export { createDnsServer, DEFAULT_DNS_LISTEN, DEFAULT_DNS_ZONE } from './server.ts'
export type { DnsServer, DnsServerComponents, DnsServerInit } from './server.ts'
export { createZone, nodeAddresses } from './zone.ts'
export type { Zone, ZoneAnswer, ZoneNode } from './zone.ts'
