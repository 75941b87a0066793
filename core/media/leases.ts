import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '../logger.ts'

/*
 * Transcode leases as the transcoder sees them: main servers sharing one database record which segments their ffmpeg
 * sessions are making, so a server asked for one of those waits for it instead of starting ffmpeg too. The store is
 * the catalog's `transcodeLeases` repository in the daemon (core/catalog/transcode-lease-repository.ts); this room
 * knows only its shape.
 */

/** A claim's answer: the lease, or who is making that segment and how far their session is. */
export type LeaseClaim =
  | { granted: true, id: string }
  | { granted: false, owner: string, position: number, expiresInMs: number }

/** A claim another server's live lease refused. */
export type LeaseRefusal = Extract<LeaseClaim, { granted: false }>

/** Where the leases live, shared by the main servers of one database. */
export interface TranscodeLeaseStore {
  /** A lease on making `key` from `index` on, unless another owner's live lease will reach `index` within `lookahead` segments. */
  claim: (key: string, index: number, owner: string, ttlMs: number, lookahead: number) => Promise<LeaseClaim>
  /** Records the session's position and extends the lease; false when it is gone (expired and taken over). */
  renew: (id: string, position: number, ttlMs: number) => Promise<boolean>
  release: (id: string) => Promise<void>
}

/** The transcoder's leases: their store and this server's name in it. */
export interface TranscoderLeases {
  store: TranscodeLeaseStore
  /** Who this server is to the other servers: its peer ID. */
  owner: string
}

export interface LeaseHoldInit {
  leases: TranscoderLeases
  logger: Logger
  key: string
  lookahead: number
  ttlMs: number
  renewMs: number
  /** The session's next segment. */
  position: () => number
  /** The lease was lost and another server now makes these segments: the session should stop. */
  onTaken: (by: LeaseRefusal) => void
}

/** A granted lease kept alive while its session runs. */
export interface LeaseHold {
  /** The session stored a segment: its position is renewed now unless it was in the last second. */
  moved: () => void
  /** Stops renewing and removes the lease; a failure only leaves it to expire. */
  release: () => Promise<void>
}

/**
 * The shortest gap between two renewals. A session moves a segment every second or so; its recorded position is what
 * other servers' claims are measured against (a claim within `lookahead` of it is refused), so it follows the session
 * this closely rather than only every `renewMs`.
 */
const MIN_RENEW_GAP_MS = 1000

/**
 * Renews lease `id` every `renewMs`, and after the session moves (at most once a second), with the session's position
 * until released. A renewal that fails (the database is
 * unreachable) is logged and tried again at the next tick: the lease may run out meanwhile and another server start
 * the same segments, which costs work, never correctness (the first stored version of a segment wins). A lease found
 * gone (it ran out and was taken over) is claimed again from the session's position; refused, `onTaken` is told.
 */
export function holdLease (id: string, init: LeaseHoldInit): LeaseHold {
  const { store, owner } = init.leases
  let current: string | undefined = id
  let released = false
  let failing = false
  let busy: Promise<void> | undefined
  let lastMs = Date.now()

  const tick = async (): Promise<void> => {
    const position = init.position()
    try {
      if (current != null && await store.renew(current, position, init.ttlMs)) { failing = false; return }
      if (released) return
      const claim = await store.claim(init.key, position, owner, init.ttlMs, init.lookahead)
      failing = false
      if (claim.granted) { current = claim.id; return }
      current = undefined
      init.logger.info({ key: init.key, at: position, owner: claim.owner }, 'our transcode lease ran out and another server took these segments over: stopping our session')
      init.onTaken(claim)
    } catch (err) {
      // logged once per run of failures, so a database down for minutes is one line, not one per tick
      if (!failing) init.logger.warn({ err, key: init.key, at: position }, 'renewing a transcode lease failed; the session goes on and tries again')
      failing = true
    }
  }
  const renew = (): void => {
    if (busy != null || released) return
    lastMs = Date.now()
    busy = tick().finally(() => { busy = undefined })
  }
  const timer = setInterval(renew, init.renewMs)
  timer.unref()

  return {
    moved: () => { if (Date.now() - lastMs >= Math.min(MIN_RENEW_GAP_MS, init.renewMs)) renew() },
    release: async () => {
      if (released) return
      released = true
      clearInterval(timer)
      await busy
      if (current == null) return
      await store.release(current).catch((err: unknown) => {
        init.logger.warn({ err, key: init.key }, 'releasing a transcode lease failed; it runs out by itself')
      })
    }
  }
}

/** How long a request waits for another server's segment before claiming again (that server's session may have stopped). */
const RECLAIM_MS = 1000

/** Waits for segments other servers are making. */
export interface ElsewhereWaits {
  /**
   * Waits, as long as `signal` lets it, until `present()` holds or it is time to claim again: when the refusing lease
   * runs out (its server died) or after a second (its session may have stopped early and released it). Requests for
   * the same `id` share one poll.
   */
  wait: (id: string, refusal: LeaseRefusal, present: () => Promise<boolean>, signal?: AbortSignal) => Promise<void>
}

/** Waits that look for the segment every `pollMs`. */
export function createElsewhereWaits (logger: Logger, pollMs: number): ElsewhereWaits {
  const waits = new Map<string, Promise<void>>()
  return {
    wait: async (id, refusal, present, signal) => {
      signal?.throwIfAborted()
      let wait = waits.get(id)
      if (wait == null) {
        const until = Date.now() + Math.max(0, Math.min(refusal.expiresInMs, RECLAIM_MS))
        logger.debug({ id, owner: refusal.owner, position: refusal.position }, 'another server is making this segment: waiting for it')
        wait = (async () => {
          while (!await present()) {
            const left = until - Date.now()
            if (left <= 0) return
            await sleep(Math.min(pollMs, left))
          }
        })().finally(() => { waits.delete(id) })
        // every request may have gone by the time the store fails: theirs to hear, no one else's
        wait.catch(() => {})
        waits.set(id, wait)
      }
      await untilAborted(wait, signal)
    }
  }
}

/** Waits for `promise`, or rejects with the signal's reason once `signal` aborts. */
async function untilAborted (promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal == null) { await promise; return }
  signal.throwIfAborted()
  let onAbort = (): void => {}
  try {
    await Promise.race([promise, new Promise<never>((_resolve, reject) => {
      onAbort = () => { reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
    })])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
