import type { ValueTransformer } from 'typeorm'

/** bigint column <-> JS number (safe: sizes and millisecond timestamps stay far below 2^53; PostgreSQL's driver returns int8 as a string). */
export const bigintNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => value == null ? value : Number(value)
}

/** bigint milliseconds column <-> Date. */
export const millisDate: ValueTransformer = {
  to: (value: Date | null | undefined) => value == null ? value : value.getTime(),
  from: (value: string | number | null) => value == null ? value : new Date(Number(value))
}

/** text column <-> string[] (JSON); a value that is not a JSON array of strings reads as []. */
export const jsonStrings: ValueTransformer = {
  to: (value: string[] | null | undefined) => value == null ? value : JSON.stringify(value),
  from: (value: string | null) => {
    if (value == null) return []
    try {
      const parsed: unknown = JSON.parse(value)
      return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === 'string') : []
    } catch {
      return []
    }
  }
}
