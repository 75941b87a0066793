import type { DataSource } from 'typeorm'

/*
 * A database's schema read from its own catalog (SQLite's PRAGMAs and sqlite_master, PostgreSQL's pg_catalog and
 * information_schema), not through TypeORM, in one shape for both dialects: what the two migration sets must agree on.
 * Types are normalised (`character varying(16)` and `varchar(16)` are `varchar(16)`, `float` and `double precision`
 * are `double`), defaults lose their parentheses and casts, and an AUTOINCREMENT or SERIAL column is `generated`.
 */

export interface ColumnShape {
  type: string
  nullable: boolean
  default: string | null
  generated: boolean
}

export interface TableShape {
  columns: Record<string, ColumnShape>
  primaryKey: string[]
  /** Indexes made by CREATE INDEX (not those behind a primary key or a UNIQUE constraint), by name. */
  indexes: Array<{ name: string, columns: string[], unique: boolean }>
  uniques: Array<{ name: string, columns: string[] }>
  foreignKeys: Array<{ name: string, columns: string[], table: string, references: string[], onDelete: string, onUpdate: string }>
}

export type SchemaShape = Record<string, TableShape>

/** The schema of a SQLite database. */
export async function sqliteSchema (db: DataSource): Promise<SchemaShape> {
  const schema: SchemaShape = {}
  const tables = await db.query<Array<{ name: string, sql: string }>>("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
  for (const { name, sql } of tables) {
    const info = await db.query<Array<{ name: string, type: string, notnull: number, dflt_value: string | null, pk: number }>>(`PRAGMA table_info("${name}")`)
    const autoincrement = /\bAUTOINCREMENT\b/i.test(sql)
    const columns: Record<string, ColumnShape> = {}
    for (const c of info) {
      const type = normalType(c.type)
      const generated = autoincrement && c.pk === 1 && type === 'integer'
      columns[c.name] = { type, nullable: c.notnull === 0 && c.pk === 0, default: normalDefault(c.dflt_value, type), generated }
    }
    const primaryKey = info.filter(c => c.pk > 0).sort((a, b) => a.pk - b.pk).map(c => c.name)
    const indexes: TableShape['indexes'] = []
    const uniques: TableShape['uniques'] = []
    const uniqueNames = constraintNames(sql, 'UNIQUE')
    for (const index of await db.query<Array<{ name: string, unique: number, origin: string }>>(`PRAGMA index_list("${name}")`)) {
      const cols = (await db.query<Array<{ seqno: number, name: string }>>(`PRAGMA index_info("${index.name}")`)).sort((a, b) => a.seqno - b.seqno).map(c => c.name)
      if (index.origin === 'c') indexes.push({ name: index.name, columns: cols, unique: index.unique === 1 })
      else if (index.origin === 'u') uniques.push({ name: uniqueNames.get(cols.join(',')) ?? '?', columns: cols })
    }
    const fkNames = constraintNames(sql, 'FOREIGN KEY')
    const rows = await db.query<Array<{ id: number, seq: number, table: string, from: string, to: string, on_update: string, on_delete: string }>>(`PRAGMA foreign_key_list("${name}")`)
    const foreignKeys: TableShape['foreignKeys'] = []
    for (const id of [...new Set(rows.map(r => r.id))]) {
      const parts = rows.filter(r => r.id === id).sort((a, b) => a.seq - b.seq)
      const cols = parts.map(p => p.from)
      foreignKeys.push({ name: fkNames.get(cols.join(',')) ?? '?', columns: cols, table: parts[0].table, references: parts.map(p => p.to), onDelete: parts[0].on_delete, onUpdate: parts[0].on_update })
    }
    schema[name] = sortedTable({ columns, primaryKey, indexes, uniques, foreignKeys })
  }
  return schema
}

/** The schema of a PostgreSQL database (its current schema). */
export async function postgresSchema (db: DataSource): Promise<SchemaShape> {
  const schema: SchemaShape = {}
  const columns = await db.query<Array<{ table_name: string, column_name: string, data_type: string, character_maximum_length: number | null, is_nullable: string, column_default: string | null }>>(
    'SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default FROM information_schema.columns ' +
    'WHERE table_schema = current_schema() AND table_name IN (SELECT tablename FROM pg_tables WHERE schemaname = current_schema()) ORDER BY table_name, ordinal_position'
  )
  for (const c of columns) {
    schema[c.table_name] ??= { columns: {}, primaryKey: [], indexes: [], uniques: [], foreignKeys: [] }
    const base = c.data_type === 'character varying' ? `varchar${c.character_maximum_length == null ? '' : `(${c.character_maximum_length})`}` : c.data_type
    const type = normalType(base)
    const generated = c.column_default?.startsWith('nextval(') === true
    schema[c.table_name].columns[c.column_name] = { type, nullable: c.is_nullable === 'YES', default: generated ? null : normalDefault(c.column_default, type), generated }
  }
  // every column list as names, in the order the constraint or index lists them
  const attnames = (table: string, nums: string): string => `ARRAY(SELECT a.attname FROM unnest(${nums}) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = ${table} AND a.attnum = k.n ORDER BY k.o)::text[]`
  const constraints = await db.query<Array<{ name: string, type: string, tbl: string, cols: string[], ref: string | null, refcols: string[] | null, del: string, upd: string }>>(
    `SELECT c.conname AS name, c.contype AS type, c.conrelid::regclass::text AS tbl, ${attnames('c.conrelid', 'c.conkey')} AS cols, ` +
    `c.confrelid::regclass::text AS ref, CASE WHEN c.contype = 'f' THEN ${attnames('c.confrelid', 'c.confkey')} END AS refcols, c.confdeltype AS del, c.confupdtype AS upd ` +
    'FROM pg_constraint c WHERE c.connamespace = current_schema()::regnamespace'
  )
  for (const c of constraints) {
    const table = schema[c.tbl]
    if (table == null) continue
    if (c.type === 'p') table.primaryKey = c.cols
    else if (c.type === 'u') table.uniques.push({ name: c.name, columns: c.cols })
    else if (c.type === 'f') table.foreignKeys.push({ name: c.name, columns: c.cols, table: c.ref ?? '', references: c.refcols ?? [], onDelete: ACTIONS[c.del] ?? c.del, onUpdate: ACTIONS[c.upd] ?? c.upd })
  }
  const indexes = await db.query<Array<{ name: string, tbl: string, unique: boolean, cols: string[] }>>(
    `SELECT i.indexrelid::regclass::text AS name, i.indrelid::regclass::text AS tbl, i.indisunique AS unique, ${attnames('i.indrelid', 'i.indkey::int2[]')} AS cols ` +
    'FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid WHERE t.relnamespace = current_schema()::regnamespace AND NOT i.indisprimary ' +
    'AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)'
  )
  for (const index of indexes) schema[index.tbl]?.indexes.push({ name: index.name, columns: index.cols, unique: index.unique })
  for (const name of Object.keys(schema)) schema[name] = sortedTable(schema[name])
  return Object.fromEntries(Object.entries(schema).sort(([a], [b]) => a < b ? -1 : 1))
}

/** pg_constraint's action codes as SQL names them (as SQLite's PRAGMA does). */
const ACTIONS: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' }

function normalType (type: string): string {
  const t = type.trim().toLowerCase()
  if (t === 'float' || t === 'double precision' || t === 'double' || t === 'real') return 'double'
  if (t === 'int' || t === 'int4') return 'integer'
  if (t === 'character varying') return 'varchar'
  return t
}

/** A default without its parentheses and casts; booleans spelt `true`/`false` (SQLite stores 1/0). */
function normalDefault (value: string | null, type: string): string | null {
  if (value == null) return null
  let v = value.trim()
  while (v.startsWith('(') && v.endsWith(')')) v = v.slice(1, -1).trim()
  v = v.replace(/::[a-z ]+(\(\d+\))?$/i, '')
  if (type === 'boolean') v = v === '1' || v.toLowerCase() === 'true' ? 'true' : v === '0' || v.toLowerCase() === 'false' ? 'false' : v
  return v
}

/** The names of a CREATE TABLE's `CONSTRAINT "name" <kind> ("a", "b")` clauses, by their column list. */
function constraintNames (sql: string, kind: 'UNIQUE' | 'FOREIGN KEY'): Map<string, string> {
  const names = new Map<string, string>()
  const pattern = new RegExp(`CONSTRAINT "([^"]+)" ${kind} \\(([^)]*)\\)`, 'gi')
  for (const [, name, cols] of sql.matchAll(pattern)) names.set(cols.split(',').map(c => c.trim().replace(/"/g, '')).join(','), name)
  return names
}

function sortedTable (table: TableShape): TableShape {
  const byName = <T extends { name: string }>(list: T[]): T[] => [...list].sort((a, b) => a.name < b.name ? -1 : 1)
  const columns = Object.fromEntries(Object.entries(table.columns).sort(([a], [b]) => a < b ? -1 : 1))
  return { ...table, columns, indexes: byName(table.indexes), uniques: byName(table.uniques), foreignKeys: byName(table.foreignKeys) }
}
