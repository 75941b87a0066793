import { createHash } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { request } from 'node:http'
import { join, relative } from 'node:path'
import Database from 'better-sqlite3'
import type { Pins } from '@helia/interface'
import type { ExecutionContext, TestFn } from 'ava'

/*
 * The hostile-input suite's one helper (test/hostile/): send a case exactly as written (method, raw path, headers,
 * raw body bytes) as an admin, a viewer or nobody; assert the deliberate status, a JSON `{ error, message }` body
 * that tells nothing of the server's insides (stack frames, paths, internal class names, the secret sent); and
 * assert that nothing changed: the catalog's tables (through a second, read-only connection on the SQLite file),
 * the blockstore's files and, for a node, its pins.
 */

/** Who a case speaks as: the admin's token, a viewer's token, or no credential. */
export type As = 'admin' | 'viewer' | 'none'

/** One hostile request and the answer it must get. */
export interface HttpCase {
  /** What the case sends, in words (the test's message on failure). */
  name: string
  method?: string
  /** Sent as written: `..`, `%2f`, `%00` reach the server untouched (node:http does not normalise paths). */
  path: string
  headers?: Record<string, string>
  /** Raw body bytes (a string is sent as UTF-8). */
  body?: string | Uint8Array
  /** @default 'admin' */
  as?: As
  /** The exact status the server must answer. */
  status: number
  /** The error name the JSON body must carry. */
  error?: string
  /** The body is JSON `{ error, message }`. @default true for statuses >= 400 */
  json?: boolean
  /**
   * What the case may change: `nothing` (the default) compares the catalog, blocks and pins before and after; a
   * legitimate edit (`stored`) is checked by `check` instead.
   */
  changes?: 'nothing' | 'stored'
  /** Further assertions on the answer. */
  check?: (t: ExecutionContext, res: HostileResponse) => void | Promise<void>
}

/** A whole answer. */
export interface HostileResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  json?: any
}

/** Where the cases go and what to watch. */
export interface HostileTarget {
  /** `http://HOST:PORT` */
  url: string
  tokens: { admin?: string, viewer?: string }
  /** The state that must not change; compared before and after each case that expects no change. */
  snapshot: () => Promise<unknown>
  /** Strings that must never appear in an answer (the data folders, secrets). */
  secrets?: string[]
  /** Values known once the target runs (a media id, a CID): `{name}` in a case's path, headers and text body. */
  vars?: Record<string, string>
}

const INTERNALS: Array<[string, RegExp]> = [
  ['a stack frame', /\n\s+at |\bat [\w.<>]+ \(/],
  ['a source file', /\.(?:ts|js|cjs|mjs):\d/],
  ['node internals', /node:internal|node_modules/],
  // the data folders are the target's `secrets`; a path the case itself sent may be echoed (a 404 names its route)
  ['the source tree', /\/work\//],
  ['an internal class name', /\b(?:SqliteError|QueryFailedError|TypeORMError|EntityNotFoundError|TypeError|ReferenceError|RangeError|SyntaxError|AggregateError|AbortError|ERR_[A-Z_]+|SQLITE_[A-Z_]+|E(?:NOENT|ACCES|PERM|ISDIR|NOTDIR|LOOP|NOSPC|MFILE))\b/],
  ['a JSON parser message', /Unexpected token|in JSON at position/]
]

/** Sends `c` to `target` and returns the whole answer. */
export async function send (target: Pick<HostileTarget, 'url' | 'tokens' | 'vars'>, written: Pick<HttpCase, 'method' | 'path' | 'headers' | 'body' | 'as'>): Promise<HostileResponse> {
  const c = filled(written, target.vars ?? {})
  const url = new URL(target.url)
  const headers: Record<string, string> = { ...c.headers }
  const as = c.as ?? 'admin'
  if (as !== 'none' && headers.Authorization == null) {
    const token = target.tokens[as]
    if (token == null) throw new Error(`no ${as} token for ${target.url}`)
    headers.Authorization = `Bearer ${token}`
  }
  const body = c.body == null ? undefined : typeof c.body === 'string' ? Buffer.from(c.body) : c.body
  if (body != null && headers['Content-Type'] == null) headers['Content-Type'] = 'application/json'
  if (body != null) headers['Content-Length'] = String(body.byteLength)
  return await new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method: c.method ?? 'GET', path: c.path, headers, agent: false, signal: AbortSignal.timeout(20_000) }, res => {
      const parts: Buffer[] = []
      res.on('data', (d: Buffer) => { parts.push(d) })
      res.on('error', reject)
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8')
        let json: unknown
        try { json = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Asserts that an answer tells nothing of the server's insides and echoes none of `secrets`. */
export function assertNoInternals (t: ExecutionContext, text: string, secrets: string[], what: string): void {
  for (const [name, pattern] of INTERNALS) t.notRegex(text, pattern, `${what}: the answer shows ${name}`)
  for (const secret of secrets) if (secret !== '') t.false(text.includes(secret), `${what}: the answer echoes a secret`)
}

/** `text` with each `{name}` of `vars` replaced by its value. */
function fill (text: string, vars: Record<string, string>): string {
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => vars[name] ?? whole)
}

/** A case with its `{name}` placeholders filled in. */
function filled<C extends Pick<HttpCase, 'path' | 'headers' | 'body'>> (c: C, vars: Record<string, string>): C {
  return {
    ...c,
    path: fill(c.path, vars),
    headers: c.headers == null ? undefined : Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k, fill(v, vars)])),
    body: typeof c.body === 'string' ? fill(c.body, vars) : c.body
  }
}

/** Runs one case against `target`: the status, the body, no internals, and (unless it may) no change. */
export async function runCase (t: ExecutionContext, target: HostileTarget, written: HttpCase): Promise<HostileResponse> {
  const c = filled(written, target.vars ?? {})
  const before = c.changes === 'stored' ? undefined : await target.snapshot()
  const res = await send(target, c)
  const what = `${c.name} (${c.method ?? 'GET'} ${c.path.slice(0, 120)})`
  t.is(res.status, c.status, `${what}: ${res.text.slice(0, 300)}`)
  if (c.json ?? res.status >= 400) {
    t.regex(String(res.headers['content-type']), /application\/json/, `${what}: content type`)
    t.is(typeof res.json?.error, 'string', `${what}: { error }`)
    t.is(typeof res.json?.message, 'string', `${what}: { message }`)
  }
  if (c.error != null) t.is(res.json?.error, c.error, what)
  const sent = [target.tokens.admin, target.tokens.viewer, c.headers?.Authorization?.replace(/^Bearer\s+/i, '')].filter((s): s is string => s != null && s.length >= 8)
  // only what the server must never say: a long secret the case sent, the data folders
  assertNoInternals(t, `${JSON.stringify(res.headers)}\n${res.text}`, [...sent, ...target.secrets ?? []], what)
  if (c.check != null) await c.check(t, res)
  if (before != null) t.deepEqual(await target.snapshot(), before, `${what}: something changed`)
  return res
}

/** Registers each case as a serial test of its own (one server, one state), named by what it sends and gets. */
export function hostileTests<C> (test: TestFn<C>, cases: HttpCase[], target: (context: C) => HostileTarget): void {
  for (const c of cases) {
    test.serial(`${c.name} is answered ${c.status}`, async t => { await runCase(t, target(t.context), c) })
  }
}

/**
 * Columns that change without any request's doing (heartbeats, token use, sliding session expiry): left out of
 * the catalog snapshot, so it holds what a hostile request could change.
 */
const VOLATILE: Record<string, string[]> = {
  access_tokens: ['last_used_at', 'expires_at'],
  nodes: ['state', 'last_seen', 'health', 'quota_bytes', 'used_bytes', 'free_bytes', 'updated_at', 'addresses', 'pinned', 'capacity'],
  content_index: ['reported_at', 'progress_at', 'updated_at', 'blocks_done', 'bytes_done', 'blocks_total', 'bytes_total'],
  // each main server's beat (issue 15)
  main_servers: ['seen_at', 'addresses', 'dns', 'leading_since']
}

/** A catalog's tables, read through a read-only connection of its own (WAL lets it read beside the server). */
export interface CatalogProbe {
  /** Row count and a hash of the rows of every table. */
  snapshot: () => Record<string, { rows: number, hash: string }>
  /** Every text value in the catalog, joined: to look for what must never be stored. */
  text: () => string
  close: () => void
}

/** Opens a read-only probe on the SQLite file at `path`. */
export function catalogProbe (path: string): CatalogProbe {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  const tables = (): string[] => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map(r => r.name)
  const rows = (table: string): Array<Record<string, unknown>> => db.prepare(`SELECT * FROM "${table}" ORDER BY rowid`).all() as Array<Record<string, unknown>>
  return {
    snapshot: () => {
      const out: Record<string, { rows: number, hash: string }> = {}
      db.transaction(() => {
        for (const table of tables()) {
          const drop = VOLATILE[table] ?? []
          const kept = rows(table).map(row => Object.entries(row).filter(([k]) => !drop.includes(k)))
          out[table] = { rows: kept.length, hash: createHash('sha256').update(JSON.stringify(kept, (_k, v: unknown) => typeof v === 'bigint' ? String(v) : Buffer.isBuffer(v) ? v.toString('hex') : v)).digest('hex').slice(0, 16) }
        }
      })()
      return out
    },
    text: () => tables().flatMap(table => rows(table).flatMap(row => Object.values(row).filter((v): v is string => typeof v === 'string'))).join('\n'),
    close: () => { db.close() }
  }
}

/** The names of every file under a blockstore folder (blockstore-fs: one file per block), sorted, and their count. */
export async function blockFiles (dir: string): Promise<{ count: number, hash: string }> {
  const names: string[] = []
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true }).catch(() => [])) {
      const path = join(folder, entry.name)
      if (entry.isDirectory()) await walk(path)
      else names.push(relative(dir, path))
    }
  }
  await walk(dir)
  names.sort()
  return { count: names.length, hash: createHash('sha256').update(names.join('\n')).digest('hex').slice(0, 16) }
}

/** A main server's state: its catalog and its blocks (`<data>/catalog.sqlite`, `<data>/blocks`). */
export function serverSnapshot (dataDir: string, probe: CatalogProbe): () => Promise<unknown> {
  return async () => ({ catalog: probe.snapshot(), blocks: await blockFiles(join(dataDir, 'blocks')) })
}

/** A CDN node's state: the roots its Helia peer pins (with their depth) and its blocks (`<data>/blocks`). */
export function nodeSnapshot (dataDir: string, pins: Pick<Pins, 'ls'>): () => Promise<unknown> {
  return async () => {
    const pinned: string[] = []
    for await (const pin of pins.ls()) pinned.push(`${pin.cid.toString()} ${pin.depth}`)
    return { pins: pinned.sort(), blocks: await blockFiles(join(dataDir, 'blocks')) }
  }
}
