import type { Logger } from '../core/logger.ts'

/** Parts a daemon started, stopped in reverse order; a part that fails to stop is logged and the rest still stop. */
export interface StopStack {
  push: (stop: () => Promise<void>) => void
  stop: () => Promise<void>
}

/** Creates an empty stop stack. */
export function createStopStack (log: Logger): StopStack {
  const steps: Array<() => Promise<void>> = []
  return {
    push: stop => { steps.push(stop) },
    stop: async () => {
      while (steps.length > 0) {
        const step = steps.pop()
        try { await step?.() } catch (err) { log.error({ err }, 'stopping a part failed') }
      }
    }
  }
}
