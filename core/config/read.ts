import { readFile } from 'node:fs/promises'
import { InvalidConfigError } from '../errors.ts'
import type { ConfigKey } from './keys.ts'

/** Where a value came from. */
export type Source = 'flag' | 'env' | 'file' | 'default'

/** A value and where it came from. */
export interface Setting {
  value: unknown
  source: Source
  /** What set it, as the user knows it (`--listen`, `CIDCAST_LISTEN`, `listen in /srv/cidcast/config.json`); absent for a default. */
  setBy?: string
}

/** What a program was given: its flags, the environment, and its file (already read) with the file's path. */
export interface Given {
  flags: Partial<Record<string, unknown>>
  env: NodeJS.ProcessEnv
  file: Record<string, unknown>
  path: string
}

/** Reads a JSON object from `path`: absent is an empty object; unreadable, not JSON or not an object is refused naming the file. */
export async function readConfigFile (path: string): Promise<Record<string, unknown>> {
  let raw: string
  try {
    raw = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new InvalidConfigError(`cannot read ${path}: ${(err as Error).message}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch (err) {
    throw new InvalidConfigError(`${path} is not a JSON object: ${(err as Error).message}`)
  }
  if (parsed == null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidConfigError(`${path} is not a JSON object: not an object`)
  return parsed as Record<string, unknown>
}

/** Keys of a file that no program reads from it (a typo, or a setting of an older version), as warnings naming file and key. */
export function unknownKeyWarnings (file: Record<string, unknown>, path: string, keys: readonly ConfigKey[], extra: readonly string[] = []): string[] {
  const known = new Set([...keys.filter(k => k.inFile !== false).map(k => k.key), ...extra])
  return Object.keys(file).filter(key => !known.has(key)).map(key => `${path}: unknown key ${JSON.stringify(key)} is ignored`)
}

/**
 * Reads each key from the first place that has it: flags > environment > file > the key's default. Every value is
 * parsed once; a bad value from the file is refused naming the file and the key.
 */
export function readSettings (keys: readonly ConfigKey[], given: Given): Record<string, Setting> {
  const out: Record<string, Setting> = {}
  for (const spec of keys) {
    const present = (value: unknown): boolean => value != null && !(spec.blankIsUnset === true && value === '')
    const candidates: Array<[unknown, Source, string]> = [
      [given.flags[spec.key], 'flag', spec.flag ?? spec.key],
      [given.env[spec.env], 'env', spec.env],
      [spec.inFile === false ? undefined : given.file[spec.key], 'file', `${spec.key} in ${given.path}`]
    ]
    const found = candidates.find(([value]) => present(value))
    if (found == null) {
      if (spec.default !== undefined) out[spec.key] = { value: spec.default, source: 'default' }
      continue
    }
    const [raw, source, setBy] = found
    out[spec.key] = { value: parseFrom(spec, raw, source, given.path), source, setBy }
  }
  return out
}

function parseFrom (spec: ConfigKey, raw: unknown, source: Source, path: string): unknown {
  try {
    return spec.parse(raw, spec.key)
  } catch (err) {
    if (source !== 'file' || (err as Error).name !== 'InvalidConfigError') throw err
    throw new InvalidConfigError(`${path}: ${(err as Error).message}`)
  }
}

/** The values of `settings`, and what set each that is not a default. */
export function valuesOf (settings: Record<string, Setting>): { values: Record<string, unknown>, setBy: Partial<Record<string, string>> } {
  const values: Record<string, unknown> = {}
  const setBy: Partial<Record<string, string>> = {}
  for (const [key, setting] of Object.entries(settings)) {
    values[key] = setting.value
    if (setting.setBy != null) setBy[key] = setting.setBy
  }
  return { values, setBy }
}
