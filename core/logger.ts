import { pino } from 'pino'
import type { Logger } from 'pino'

export type { Logger }

/** Creates the root logger; components take `logger.child({ name: 'cidcast:part' })`. */
export function createLogger (options: { level?: string, destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? process.env.CIDCAST_LOG_LEVEL ?? 'info'
  return options.destination == null ? pino({ level }) : pino({ level }, options.destination)
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
