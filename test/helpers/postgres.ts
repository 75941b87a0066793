import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, chownSync, closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { mkdtemp, readdir, rename, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import type { Client } from 'pg'
import { freePort } from './ports.ts'

/*
 * A real PostgreSQL server for the tests, one per test process (an ava worker runs one test file), started on first
 * use and stopped when the process exits: initdb into a temporary folder, then `postgres` on a free port of
 * 127.0.0.1, its unix socket in the same folder. PostgreSQL refuses to run as root, so as root (as CI runs) both run as
 * the `postgres` user Debian's package makes, through `setpriv`, which also ties the server to this process with a
 * parent-death signal: it dies with the test process however that ends. Durability is traded for speed (fsync off);
 * the cluster's locale is C, so text sorts bytewise as SQLite's does (what the catalog asks of a database). Each test
 * gets a database of its own (`createPostgresDatabase`); the superuser has a random password, and connections over
 * TCP must give it (scram-sha-256), as a real server's would.
 */

const run = promisify(execFile)

/** Where Debian's packages put the server's programs (newest version first); `PG_BIN` overrides. */
const PG_ROOT = '/usr/lib/postgresql'
/** How long a server gets to accept connections. */
const START_TIMEOUT_MS = 30_000
/** How long the exit handler waits for the server to go after its immediate shutdown. */
const STOP_TIMEOUT_MS = 5000
/** Folders of this helper in the temporary folder: `cidcast-pg-<pid>-XXXXXX`. */
const DIR_PREFIX = 'cidcast-pg-'
const SUPERUSER = 'postgres'

/** The running server of this process. */
export interface PostgresServer {
  host: string
  port: number
  user: string
  password: string
  /** The URL of a database on it (`postgres` by default), with the superuser's credentials. */
  url: (database?: string) => string
  /** Folder of the server's binaries (psql, pg_dump... for tests that want them). */
  bin: string
  /** Stops the server as `pg_ctl stop` does (a fast shutdown: clients are cut off, the data is kept); resolves once it is gone. */
  stop: () => Promise<void>
  /** Starts the stopped server again on the same data and port; resolves once it answers. */
  start: () => Promise<void>
}

let started: Promise<PostgresServer> | undefined
let databases = 0

/** The process's PostgreSQL server, started on first call. */
export async function postgresServer (): Promise<PostgresServer> {
  started ??= startServer()
  return await started
}

/** A new, empty database on the process's server (collation C, owned by the superuser); its URL. */
export async function createPostgresDatabase (options: { locale?: string, icuLocale?: string } = {}): Promise<string> {
  const server = await postgresServer()
  const name = `cidcast_test_${++databases}`
  const locale = options.icuLocale != null
    ? ` LOCALE_PROVIDER icu ICU_LOCALE '${options.icuLocale}' LOCALE '${options.locale ?? 'C'}'`
    : options.locale != null ? ` LOCALE '${options.locale}'` : ''
  await withClient(server.url(), async client => { await client.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'${locale} STRATEGY FILE_COPY`) })
  return server.url(name)
}

/** Runs `fn` with a connected client of `url`, closed afterwards. */
export async function withClient<T> (url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Folder of initdb and postgres: `PG_BIN`, else the newest of /usr/lib/postgresql/<version>/bin. */
function binFolder (): string {
  if (process.env.PG_BIN != null && process.env.PG_BIN !== '') return process.env.PG_BIN
  const versions = existsSync(PG_ROOT) ? readdirSync(PG_ROOT).filter(v => existsSync(join(PG_ROOT, v, 'bin', 'postgres'))) : []
  versions.sort((a, b) => Number(b) - Number(a))
  if (versions.length === 0) throw new Error(`no PostgreSQL server found in ${PG_ROOT}/<version>/bin (install Debian's postgresql, or set PG_BIN)`)
  return join(PG_ROOT, versions[0], 'bin')
}

/** uid and gid of the `postgres` user, read from /etc/passwd. */
function postgresUser (): { uid: number, gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find(l => l.startsWith('postgres:'))
  if (line == null) throw new Error('running as root and there is no postgres user to run PostgreSQL as (install Debian\'s postgresql)')
  const [, , uid, gid] = line.split(':')
  return { uid: Number(uid), gid: Number(gid) }
}

/** argv that runs `command` as the `postgres` user when this process is root, tied to this process by a parent-death signal. */
function asServerUser (command: string, args: string[], tie: boolean): [string, string[]] {
  const death = tie ? ['--pdeathsig', 'KILL'] : []
  if (process.getuid?.() !== 0) return tie ? ['setpriv', [...death, '--', command, ...args]] : [command, args]
  const { uid, gid } = postgresUser()
  return ['setpriv', [...death, '--reuid', String(uid), '--regid', String(gid), '--clear-groups', '--', command, ...args]]
}

/** Removes the folders of earlier test processes that did not live to remove them (killed, or timed out). */
async function sweepLeftovers (): Promise<void> {
  for (const name of await readdir(tmpdir()).catch(() => [])) {
    const pid = Number(/^cidcast-pg-(\d+)-/.exec(name)?.[1])
    if (!Number.isSafeInteger(pid) || alive(pid)) continue
    rmSync(join(tmpdir(), name), { recursive: true, force: true })
  }
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * An initdb'd cluster to copy from, made once per machine and PostgreSQL version (initdb takes seconds on a busy
 * machine, a copy a fraction of one): `<tmp>/cidcast-pg-template-<version>/` with `data/` and the superuser's
 * `password`. Made in a folder of its own and renamed into place, so concurrent test processes never see half of one.
 */
async function template (bin: string): Promise<{ data: string, password: string }> {
  const dir = join(tmpdir(), `${DIR_PREFIX}template-${bin.split('/').at(-2) ?? 'pg'}`)
  if (!existsSync(join(dir, 'password'))) {
    const building = await mkdtemp(`${dir}.building-`)
    try {
      const password = randomBytes(12).toString('hex')
      if (process.getuid?.() === 0) chownSync(building, postgresUser().uid, postgresUser().gid)
      const pwfile = join(building, 'pwfile')
      await writeFile(pwfile, password)
      if (process.getuid?.() === 0) chownSync(pwfile, postgresUser().uid, postgresUser().gid)
      const [initdb, initArgs] = asServerUser(join(bin, 'initdb'), ['-D', join(building, 'data'), '-U', SUPERUSER, `--pwfile=${pwfile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync'], false)
      await run(initdb, initArgs).catch((err: Error & { stderr?: string }) => { throw new Error(`initdb failed: ${err.stderr ?? err.message}`) })
      rmSync(pwfile)
      // written last: its presence says the template is whole
      await writeFile(join(building, 'password'), password)
      await rename(building, dir).catch(() => {})
    } finally {
      rmSync(building, { recursive: true, force: true })
    }
  }
  return { data: join(dir, 'data'), password: readFileSync(join(dir, 'password'), 'utf8') }
}

async function startServer (): Promise<PostgresServer> {
  await sweepLeftovers()
  const bin = binFolder()
  const source = await template(bin)
  const dir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`))
  const data = join(dir, 'data')
  const { password } = source
  const user = SUPERUSER
  if (process.getuid?.() === 0) chownSync(dir, postgresUser().uid, postgresUser().gid)
  chmodSync(dir, 0o700)
  // cp -a keeps the postgres user's ownership (as root) and the 0700 mode the server insists on
  await run('cp', ['-a', source.data, data])

  const stop = (): void => { stopServer(data, dir) }
  process.once('exit', stop)
  let launches = 0
  /** Runs `postgres` on `port` until it answers (true) or exits or times out (false). */
  const launch = async (port: number): Promise<boolean> => {
    const logFile = join(dir, `postgres-${++launches}.log`)
    const log = openSync(logFile, 'a')
    const [command, args] = asServerUser(join(bin, 'postgres'), [
      '-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
      // a test server: nothing needs to survive a crash
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'max_connections=200'
    ], true)
    const child = spawn(command, args, { stdio: ['ignore', log, log] })
    closeSync(log)
    // the server must not keep the test process alive: the exit handler stops it
    child.unref()
    const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
    return await Promise.race([waitReady(urlOf(user, password, port)), exited.then(() => false)])
  }
  const lastLog = (): string => readFileSync(join(dir, `postgres-${launches}.log`), 'utf8').trim().split('\n').slice(-3).join(' | ')
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    if (await launch(port)) {
      return {
        host: '127.0.0.1',
        port,
        user,
        password,
        bin,
        url: (database = 'postgres') => urlOf(user, password, port, database),
        stop: async () => { await shutdown(data, 'SIGINT') },
        start: async () => {
          if (!await launch(port)) throw new Error(`PostgreSQL did not start again: ${lastLog()}`)
        }
      }
    }
    // most likely the port was taken between freePort and the bind: another port
    if (attempt >= 3) throw new Error(`PostgreSQL did not start: ${lastLog()}`)
  }
}

function urlOf (user: string, password: string, port: number, database = 'postgres'): string {
  return `postgres://${user}:${password}@127.0.0.1:${port}/${database}`
}

/** Signals the postmaster of `data` and resolves once it removed its postmaster.pid (it is gone). */
async function shutdown (data: string, signal: NodeJS.Signals): Promise<void> {
  const pidFile = join(data, 'postmaster.pid')
  process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), signal)
  const deadline = Date.now() + START_TIMEOUT_MS
  while (existsSync(pidFile)) {
    if (Date.now() > deadline) throw new Error('PostgreSQL did not stop')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** Resolves true once the server answers a query, false after the start timeout. */
async function waitReady (url: string): Promise<boolean> {
  const deadline = Date.now() + START_TIMEOUT_MS
  while (Date.now() < deadline) {
    try {
      await withClient(url, async client => await client.query('SELECT 1'))
      return true
    } catch {
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
  return false
}

/**
 * Stops the server at process exit, synchronously (an exit handler cannot wait on promises): an immediate shutdown
 * (SIGQUIT), a wait until it removed its postmaster.pid, then the folder goes.
 */
function stopServer (data: string, dir: string): void {
  const pidFile = join(data, 'postmaster.pid')
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0])
    process.kill(pid, 'SIGQUIT')
    const pause = new Int32Array(new SharedArrayBuffer(4))
    const deadline = Date.now() + STOP_TIMEOUT_MS
    while (existsSync(pidFile) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 10)
  } catch {}
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 })
}
