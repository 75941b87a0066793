import { InvalidRequestError } from '../errors.ts'
import { Segment } from './entities.ts'
import type { Rendition } from './entities.ts'
import type { EntityManager } from 'typeorm'

/* What the catalog checks before it writes: ids and counts from callers, and the segments a rendition still lacks. */

/** Indexes in 0..segmentCount-1 that have no segment. */
export async function missingSegments (db: EntityManager, rendition: Rendition): Promise<number[]> {
  const rows = await db.getRepository(Segment).find({
    select: { index: true },
    where: { renditionKey: rendition.key },
    order: { index: 'ASC' }
  })
  const present = new Set(rows.map(row => row.index))
  const missing: number[] = []
  for (let index = 0; index < rendition.segmentCount; index++) {
    if (!present.has(index)) missing.push(index)
  }
  return missing
}

/** Refuses an id that is empty or longer than `maxLength`. */
export function checkId (value: string, maxLength: number, what: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new InvalidRequestError(`${what} must be 1 to ${maxLength} characters`)
  }
}

/** A whole number >= 0 given by a caller, or `fallback` when none was given. */
export function count (value: number | undefined, fallback: number): number {
  if (value == null) return fallback
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidRequestError(`expected a whole number >= 0, got ${value}`)
  return value
}
