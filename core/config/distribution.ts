import { InvalidConfigError } from '../errors.ts'

/*
 * The main server's `distribution` section (issue 13): how content spreads to CDN nodes without anyone asking. One
 * key of the table (`distribution` in config.json, an object; `CIDCAST_DISTRIBUTION` as JSON), every field checked
 * here and named `distribution.<field>` when refused. Fields left out keep their defaults.
 */

/** How the value of a node's automatically held copy is weighed when room is needed. */
export const EVICTION_VALUES = ['gdsf', 'lfu'] as const
export type EvictionValue = typeof EVICTION_VALUES[number]

/** The `distribution` section, whole. */
export interface DistributionSettings {
  /** Place and evict on shared nodes without being asked. */
  auto: boolean
  /** Hours for a demand score to halve. */
  halfLifeHours: number
  /** Copies of a demanded rendition on nodes, at least (0: only where viewers ask for it). */
  min: number
  /** Copies at most. */
  max: number
  /** Plays (decayed) one copy serves: demand of `playsPerReplica` x n plays asks n copies. */
  playsPerReplica: number
  /** Demand below this many plays (decayed) places nothing by itself. */
  minPlays: number
  /** Viewers of a title through one node by fallback, within `fallbackWindowMinutes`, that get it placed on that node. */
  fallbackViewers: number
  fallbackWindowMinutes: number
  /** An automatic copy is kept at least this long (no churn), unless the node's disk is full. */
  minLifetimeMinutes: number
  /** How often placement and eviction are looked at again (also at once on events). */
  evaluateSeconds: number
  /** Share of an episode watched (0-1) that pre-caches the next one on the viewer's node, where nearly all go on (precacheEarlyShare). */
  precacheAt: number
  /** The later mark (0-1, at least precacheAt) where the next title is pre-cached when fewer go on (precacheMinShare); equal to precacheAt: one mark. */
  precacheLateAt: number
  /** Share (0-1) of the viewers past precacheAt who went on that pre-caches at precacheAt rather than waiting for precacheLateAt. */
  precacheEarlyShare: number
  /** Seconds from the start of the next episode that are pre-cached. */
  precacheSeconds: number
  /** Pre-cache the next title only where at least this share (0-1) of the viewers who crossed the mark went on to it, learned per kind of next title and mark (0: always). */
  precacheMinShare: number
  /** `gdsf`: decayed plays per byte; `lfu`: decayed plays (larger titles weigh more). */
  evictionValue: EvictionValue
}

export const DISTRIBUTION_DEFAULTS: Readonly<DistributionSettings> = Object.freeze({
  auto: true,
  halfLifeHours: 6,
  min: 0,
  max: 64,
  playsPerReplica: 1,
  minPlays: 1,
  fallbackViewers: 2,
  fallbackWindowMinutes: 60,
  minLifetimeMinutes: 60,
  evaluateSeconds: 60,
  precacheAt: 0.75,
  precacheLateAt: 0.95,
  precacheEarlyShare: 0.85,
  precacheSeconds: 60,
  precacheMinShare: 0.65,
  evictionValue: 'lfu'
})

type Check = (value: unknown, name: string) => unknown

function numberIn (low: number, high: number, whole = false): Check {
  return (value, name) => {
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
    if (typeof n !== 'number' || !Number.isFinite(n) || n < low || n > high || (whole && !Number.isInteger(n))) {
      throw new InvalidConfigError(`${name} must be a ${whole ? 'whole ' : ''}number from ${low} to ${high}`)
    }
    return n
  }
}

const FIELDS: Record<keyof DistributionSettings, Check> = {
  auto: (value, name) => {
    if (typeof value === 'boolean') return value
    throw new InvalidConfigError(`${name} must be true or false`)
  },
  halfLifeHours: numberIn(0.01, 24 * 365),
  min: numberIn(0, 64, true),
  max: numberIn(1, 64, true),
  playsPerReplica: numberIn(0.01, 1e6),
  minPlays: numberIn(0, 1e6),
  fallbackViewers: numberIn(1, 1000, true),
  fallbackWindowMinutes: numberIn(1, 7 * 24 * 60),
  minLifetimeMinutes: numberIn(0, 30 * 24 * 60),
  evaluateSeconds: numberIn(1, 3600),
  precacheAt: numberIn(0.05, 1),
  precacheLateAt: numberIn(0.05, 1),
  precacheEarlyShare: numberIn(0, 1),
  precacheSeconds: numberIn(0, 3600),
  precacheMinShare: numberIn(0, 1),
  evictionValue: (value, name) => {
    if (typeof value === 'string' && (EVICTION_VALUES as readonly string[]).includes(value)) return value
    throw new InvalidConfigError(`${name} must be one of ${EVICTION_VALUES.join(', ')}`)
  }
}

/** Parses the section (an object, or its JSON text from the environment); refuses unknown or bad fields by name. */
export function parseDistribution (value: unknown, key: string): DistributionSettings {
  let given = value
  if (typeof given === 'string') {
    try {
      given = JSON.parse(given)
    } catch {
      throw new InvalidConfigError(`${key} must be a JSON object such as {"max": 4}`)
    }
  }
  if (given == null || typeof given !== 'object' || Array.isArray(given)) throw new InvalidConfigError(`${key} must be an object such as {"max": 4}`)
  const out: Record<string, unknown> = { ...DISTRIBUTION_DEFAULTS }
  for (const [field, raw] of Object.entries(given)) {
    const check = Object.hasOwn(FIELDS, field) ? FIELDS[field as keyof DistributionSettings] : undefined
    if (check == null) throw new InvalidConfigError(`${key}.${field.slice(0, 40)} is not a setting (known: ${Object.keys(FIELDS).join(', ')})`)
    out[field] = check(raw, `${key}.${field}`)
  }
  const settings = out as unknown as DistributionSettings
  if (settings.min > settings.max) throw new InvalidConfigError(`${key}.min (${settings.min}) must not be above ${key}.max (${settings.max})`)
  if (settings.precacheLateAt < settings.precacheAt) {
    // a precacheAt given alone above the default late mark moves the late mark with it: one mark, as before
    if (Object.hasOwn(given, 'precacheLateAt')) throw new InvalidConfigError(`${key}.precacheLateAt (${settings.precacheLateAt}) must not be below ${key}.precacheAt (${settings.precacheAt})`)
    settings.precacheLateAt = settings.precacheAt
  }
  return settings
}
