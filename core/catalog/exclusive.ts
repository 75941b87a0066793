import type { EntityManager } from 'typeorm'

/**
 * Runs `fn` on the catalog's database after every earlier write has settled (the catalog's one write queue), in one
 * transaction, tried again whole while another process holds the database locked (busy.ts), up to the catalog's bound.
 * Only the catalog's own files get one: other rooms reach the database through the repositories built on it.
 */
export type RunExclusive = <T>(fn: (db: EntityManager) => Promise<T>) => Promise<T>

/**
 * Runs a read beside the write queue (as the catalog's own reads do), waiting out a database locked by another
 * process; outside a transaction, so it costs one round trip on PostgreSQL, not three.
 */
export type RunRead = <T>(fn: (db: EntityManager) => Promise<T>) => Promise<T>

/** Epoch milliseconds as a Date column value, null staying null. */
export function dateOf (ms: number | null): Date | null {
  return ms == null ? null : new Date(ms)
}

/** A Date column value as epoch milliseconds, null staying null. */
export function msOf (date: Date | null): number | null {
  return date?.getTime() ?? null
}

/** Parses a JSON column written by the catalog; a damaged value reads as `fallback` rather than taking its reader down. */
export function parseJson<T> (text: string | null, fallback: T): T {
  if (text == null) return fallback
  try {
    return JSON.parse(text) as T
  } catch {
    return fallback
  }
}
