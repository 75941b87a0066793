/** A function that runs `fn` once fewer than its limit of others run, in the order they were asked. */
export type Limited = <T>(fn: () => Promise<T>) => Promise<T>

/** Runs at most `max` of the functions given to it at once; the others wait their turn. */
export function limitConcurrency (max: number): Limited {
  let running = 0
  const waiting: Array<() => void> = []
  return async fn => {
    if (running >= max) await new Promise<void>(resolve => { waiting.push(resolve) })
    running++
    try {
      return await fn()
    } finally {
      running--
      waiting.shift()?.()
    }
  }
}
