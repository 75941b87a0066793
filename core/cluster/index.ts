/*
 * core/cluster: several main servers on one database (issue 15, item 2): membership (each server's beat in
 * `main_servers`) and leadership (one advisory lock; the leader runs the work that must run once). Main server only.
 * Other folders import this file only.
 */

export { createCluster } from './cluster.ts'
export type { Cluster, ClusterComponents, ClusterInit, LeaderWork, Member, SelfInfo } from './cluster.ts'
