import { createHash } from 'node:crypto'

/** Short stable id for a new series or collection. */
export function shortId (key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16)
}
