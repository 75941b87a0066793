import { copyFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bearer } from './auth.ts'
import { startChild } from './child.ts'
import { createPostgresDatabase } from './postgres.ts'
import type { BenchChild } from './child.ts'

/*
 * Several main servers on one PostgreSQL catalog (issue 15), each a process of its own (test/helpers/server-process.ts)
 * with its own data folder, peer and blockstore, for the cluster tests and the failover bench.
 */

const SERVER = fileURLToPath(new URL('./server-process.ts', import.meta.url))

export type ServerChild = BenchChild<{ url: string, token: string }>

/** What `GET /api/v1/server` says of the cluster. */
export interface ClusterInfo {
  peerId: string
  leader: boolean
  /** The DNS zone it answers for, and where its DNS server listens (`host:port`). */
  zone: string
  dnsListen: string | null
  servers: Array<{ peerId: string, url: string, leader: boolean }>
}

/** A main server process on `database` (log level from `BENCH_SERVER_LOG_LEVEL`, `error` by default). */
export async function startMain (data: string, database: string): Promise<ServerChild> {
  return await startChild(SERVER, [data], 60_000, { env: { BENCH_SERVER_LOG_LEVEL: process.env.BENCH_SERVER_LOG_LEVEL ?? 'error', CIDCAST_DATABASE: database } })
}

/** Two servers on one new catalog and one private network (the second gets the first one's swarm key, as an admin copies it). */
export async function startPair (dir: string, database?: string): Promise<{ a: ServerChild, b: ServerChild, swarmKey: string }> {
  const url = database ?? await createPostgresDatabase()
  const a = await startMain(join(dir, 'a'), url)
  await mkdir(join(dir, 'b'), { recursive: true })
  await copyFile(join(dir, 'a', 'swarm.key'), join(dir, 'b', 'swarm.key'))
  const b = await startMain(join(dir, 'b'), url)
  return { a, b, swarmKey: join(dir, 'a', 'swarm.key') }
}

/** A JSON call of the API with an admin's token; throws on any status from 300 on. */
export async function api<T> (server: ServerChild, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.ready.url}${path}`, { method, headers: { 'Content-Type': 'application/json', ...bearer(token) }, body: body === undefined ? undefined : JSON.stringify(body) })
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`)
  return await res.json() as T
}

/** The cluster as one server sees it. */
export async function clusterInfo (server: ServerChild): Promise<ClusterInfo> {
  return await (await fetch(`${server.ready.url}/api/v1/server`)).json() as ClusterInfo
}
