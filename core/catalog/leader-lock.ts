import type { DataSource } from 'typeorm'

/*
 * The leader of several main servers on one PostgreSQL database (issue 15, item 2) is whoever holds one session-level
 * advisory lock. It is held on a connection of its own, outside TypeORM's pool (a pooled client that breaks while
 * checked out has nobody listening for its error), so when the leader's process dies, or its connection does, the
 * lock goes with it and another server takes it. PostgreSQL learns of a vanished client from TCP: the session's
 * keepalives are set short so a leader whose machine died frees the lock within ~20 s rather than the kernel's 2 h.
 * On SQLite there is one server per catalog file, and it always leads.
 */

/** The key of the leader's advisory lock (its own number: the migrations lock is another). */
export const LEADER_LOCK_KEY = 7_283_160_355

/** One server's hold on the leadership lock. */
export interface LeaderLock {
  /** Takes the lock if it is free; true while this server holds it (a call when held checks the connection). */
  acquire (): Promise<boolean>
  /** Lets the lock go (the server stops). */
  release (): Promise<void>
}

/** What leader-lock.ts uses of node-postgres's Client, which TypeORM's driver loads (`pg` ships no types). */
interface PgClient {
  connect (): Promise<void>
  query<R>(text: string, values?: unknown[]): Promise<{ rows: R[] }>
  end (): Promise<void>
  on (event: 'error', listener: (err: Error) => void): void
}
type PgClientClass = new (config: { connectionString: string, keepAlive: boolean, keepAliveInitialDelayMillis: number, connectionTimeoutMillis: number, application_name: string }) => PgClient

/** The leadership lock on `dataSource`'s database: an advisory lock on PostgreSQL, always held on SQLite. */
export function createLeaderLock (dataSource: DataSource, url: string | undefined): LeaderLock {
  if (dataSource.options.type !== 'postgres' || url == null) return { acquire: async () => true, release: async () => {} }
  const Client = (dataSource.driver as unknown as { postgres: { Client: PgClientClass } }).postgres.Client
  let client: PgClient | undefined
  let held = false
  const drop = async (): Promise<void> => {
    const old = client
    client = undefined
    held = false
    await old?.end().catch(() => {})
  }
  return {
    async acquire () {
      try {
        if (client == null) {
          const fresh = new Client({ connectionString: url, keepAlive: true, keepAliveInitialDelayMillis: 5000, connectionTimeoutMillis: 5000, application_name: 'cidcast-leader' })
          // a broken connection is found by the next acquire's query; this only keeps the error from being unhandled
          fresh.on('error', () => { if (client === fresh) held = false })
          client = fresh
          await fresh.connect()
          await fresh.query("SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 3; SET tcp_keepalives_count = 3; SET statement_timeout = '5s'")
        }
        if (held) {
          // the lock lives as long as this session: a query that answers shows both are still there
          await client.query('SELECT 1')
          return true
        }
        const [row] = (await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [LEADER_LOCK_KEY])).rows
        held = row?.locked === true
        return held
      } catch {
        await drop()
        return false
      }
    },
    async release () {
      if (client != null && held) await client.query('SELECT pg_advisory_unlock($1)', [LEADER_LOCK_KEY]).catch(() => {})
      await drop()
    }
  }
}
