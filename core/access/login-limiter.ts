import { systemClock } from '../clock.ts'
import { TooManyAttemptsError } from './errors.ts'
import type { Clock } from '../clock.ts'

/*
 * Slows password guessing, per account and per client address: a few failures are free, then every further
 * attempt must wait twice as long as the one before (1 s, 2 s, 4 s ... up to 15 min) after the last failure. An
 * address gets more free failures than an account (people behind one NAT share it). A good login clears its
 * account's count but not the address's, so an attacker cannot wipe the count by logging into an account of
 * their own between guesses. Counts are forgotten 15 minutes after the last failure; memory is bounded (the
 * oldest keys go first).
 */

export interface LoginLimiterInit {
  /** Failures of one account allowed before waiting starts. @default 5 */
  freeFailures?: number
  /** Failures from one address allowed before waiting starts. @default 20 */
  freeAddressFailures?: number
  /** The longest wait, and how long failures are remembered. @default 900000 (15 min) */
  maxDelayMs?: number
  /** Most keys kept. @default 100000 */
  maxKeys?: number
}

/** One login attempt: the account named and the address it came from. */
export interface LoginAttempt {
  account: string
  address: string
}

export interface LoginLimiter {
  /** Throws TooManyAttemptsError when the account or the address must still wait. */
  check (attempt: LoginAttempt): void
  /** Counts a failed login against the account and the address. */
  failed (attempt: LoginAttempt): void
  /** Clears the account's count after a good login. */
  succeeded (attempt: LoginAttempt): void
}

/** A login limiter kept in memory. */
export function createLoginLimiter (components: { clock?: Clock } = {}, init: LoginLimiterInit = {}): LoginLimiter {
  const clock = components.clock ?? systemClock
  const maxDelayMs = init.maxDelayMs ?? 15 * 60_000
  const maxKeys = init.maxKeys ?? 100_000
  const failures = new Map<string, { count: number, lastMs: number }>()
  const keysOf = (attempt: LoginAttempt): Array<[string, number]> => [
    [`account:${attempt.account.trim().toLowerCase().slice(0, 64)}`, init.freeFailures ?? 5],
    [`address:${attempt.address}`, init.freeAddressFailures ?? 20]
  ]

  function current (key: string, now: number): { count: number, lastMs: number } | undefined {
    const entry = failures.get(key)
    if (entry != null && now - entry.lastMs > maxDelayMs) {
      failures.delete(key)
      return undefined
    }
    return entry
  }

  return {
    check (attempt) {
      const now = clock.now()
      let waitMs = 0
      for (const [key, free] of keysOf(attempt)) {
        const entry = current(key, now)
        if (entry == null || entry.count < free) continue
        const delay = Math.min(maxDelayMs, 1000 * 2 ** Math.min(entry.count - free, 30))
        waitMs = Math.max(waitMs, entry.lastMs + delay - now)
      }
      if (waitMs > 0) throw new TooManyAttemptsError('too many failed logins: wait before trying again', Math.ceil(waitMs / 1000))
    },
    failed (attempt) {
      const now = clock.now()
      for (const [key] of keysOf(attempt)) {
        const entry = current(key, now) ?? { count: 0, lastMs: now }
        failures.delete(key)
        failures.set(key, { count: entry.count + 1, lastMs: now })
        if (failures.size > maxKeys) failures.delete(failures.keys().next().value as string)
      }
    },
    succeeded (attempt) {
      failures.delete(keysOf(attempt)[0][0])
    }
  }
}
