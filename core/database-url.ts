import { resolve } from 'node:path'
import { InvalidConfigError } from './errors.ts'

/*
 * The `database` setting of the main server: where its catalog lives. `sqlite:<path>` (a file, made absolute; a bare
 * path or ':memory:' reads the same) or `postgres://user:password@host:port/database` (`postgresql://` too, with
 * libpq's query parameters such as `?sslmode=require` or `?host=/run/postgresql` for a unix socket). Parsing lives
 * here, apart from core/catalog, so the config reader does not load TypeORM. A PostgreSQL URL may hold a password: it
 * never reaches a log line or an error as written; `describeDatabase` is the form to show.
 */

/** Which database a catalog is kept in. */
export type DatabaseTarget =
  | { dialect: 'sqlite', /** An absolute file path, or ':memory:'. */ path: string }
  | { dialect: 'postgres', /** The URL as given (with its password, if any): for the driver only. */ url: string }

export type DatabaseDialect = DatabaseTarget['dialect']

const POSTGRES_SCHEMES = ['postgres:', 'postgresql:']
const SQLITE_PREFIX = 'sqlite:'

/** Whether a setting names PostgreSQL (by its scheme), before it is checked. */
export function isPostgresSetting (value: string): boolean {
  return POSTGRES_SCHEMES.some(scheme => value.toLowerCase().startsWith(`${scheme}//`))
}

/**
 * Parses a database setting (`sqlite:<path>`, a bare path, ':memory:', `postgres://...`); a bad one is refused with
 * InvalidConfigError naming `key` and never the password.
 */
export function parseDatabase (value: unknown, key = 'database'): DatabaseTarget {
  if (typeof value !== 'string' || value.trim() === '') throw new InvalidConfigError(`${key} must be sqlite:<path> or postgres://user:password@host:port/database`)
  const text = value.trim()
  if (isPostgresSetting(text)) return { dialect: 'postgres', url: checkPostgresUrl(text, key) }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new InvalidConfigError(`${key} must be sqlite:<path> or postgres://user:password@host:port/database (got ${JSON.stringify(redactSecrets(text))})`)
  }
  const path = text.startsWith(SQLITE_PREFIX) ? text.slice(SQLITE_PREFIX.length) : text
  if (path === '') throw new InvalidConfigError(`${key}: sqlite: needs a file path (sqlite:/srv/cidcast/catalog.sqlite)`)
  if (path.includes('\0')) throw new InvalidConfigError(`${key}: the SQLite path holds a NUL byte`)
  return { dialect: 'sqlite', path: path === ':memory:' ? path : resolve(path) }
}

/** The setting as the config keeps it: `sqlite:<absolute path>`, or the PostgreSQL URL as given. */
export function databaseSetting (target: DatabaseTarget): string {
  return target.dialect === 'sqlite' ? `${SQLITE_PREFIX}${target.path}` : target.url
}

/** A setting as logs and messages may show it: a PostgreSQL URL without its password (and query, which may hold one). */
export function describeDatabase (target: DatabaseTarget): string {
  if (target.dialect === 'sqlite') return `${SQLITE_PREFIX}${target.path}`
  const { url, host } = postgresUrl(target.url)
  const user = url.username === '' ? '' : `${url.username}@`
  return `${url.protocol}//${user}${host}${url.pathname}`
}

/**
 * A PostgreSQL URL parsed as node-postgres parses it: `postgres://user@/db?host=/run/postgresql` (no host: a unix
 * socket named in the query) is not a WHATWG URL, so it is read with a stand-in host, as pg-connection-string does.
 */
function postgresUrl (text: string): { url: URL, host: string } {
  try {
    const url = new URL(text)
    return { url, host: url.host }
  } catch {
    return { url: new URL(text.replace('@/', '@stand-in.invalid/')), host: '' }
  }
}

/** `text` with whatever sits between `//user:` and `@` masked: for echoing a value that did not parse. */
export function redactSecrets (text: string): string {
  return text.replace(/(\/\/[^/:@]*:)[^@/]*@/g, '$1***@').replace(/([?&](?:password|sslpassword)=)[^&]*/gi, '$1***')
}

function checkPostgresUrl (text: string, key: string): string {
  let url: URL
  let host: string
  try {
    ({ url, host } = postgresUrl(text))
  } catch {
    throw new InvalidConfigError(`${key} is not a valid postgres:// URL (got ${JSON.stringify(redactSecrets(text))})`)
  }
  const shown = describeDatabase({ dialect: 'postgres', url: text })
  const socket = url.searchParams.get('host')
  if (host === '' && (socket == null || socket === '')) throw new InvalidConfigError(`${key} needs a host: postgres://user:password@host:port/database (got ${shown})`)
  if (url.pathname.length <= 1 || url.pathname.slice(1).includes('/')) throw new InvalidConfigError(`${key} needs one database name after the host: postgres://user:password@host:port/database (got ${shown})`)
  return text
}
