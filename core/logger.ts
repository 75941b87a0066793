import { pino } from 'pino'
import type { Logger } from 'pino'

export type { Logger }

/** How a daemon's log lines look: `pretty` (readable), `json` (one object a line), `auto` (pretty on a terminal). */
export type LogFormat = 'auto' | 'json' | 'pretty'

/** Where log lines go: stdout, or a stand-in with the same few members. */
export interface LogOutput {
  write: (text: string) => unknown
  /** True on a terminal. */
  isTTY?: boolean
  /** Whether the terminal shows colours (Node's answer honours NO_COLOR, FORCE_COLOR and TERM). */
  hasColors?: () => boolean
}

/** Keys whose values never reach a log line, in either format, at the top of an entry or one level down. */
const SECRET_KEYS = ['swarmKey', 'psk', 'token', 'apiKey', 'password', 'authorization', 'cookie', 'tmdbKey', 'tvdbKey', 'tvdbPin', 'omdbKey']
const REDACT = { paths: [...SECRET_KEYS, ...SECRET_KEYS.map(key => `*.${key}`)], censor: '[redacted]' }

/** Creates a root logger writing JSON lines; components take `logger.child({ name: 'cidcast:part' })`. */
export function createLogger (options: { level?: string, destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? process.env.CIDCAST_LOG_LEVEL ?? 'info'
  return options.destination == null ? pino({ level, redact: REDACT }) : pino({ level, redact: REDACT }, options.destination)
}

/**
 * A daemon's root logger: readable lines when `format` is `pretty`, or `auto` and the output is a terminal; JSON
 * lines otherwise (a pipe, a file, a log collector). The formatter is loaded only when it is used.
 */
export async function createDaemonLogger (options: { level?: string, format?: LogFormat, output?: LogOutput } = {}): Promise<Logger> {
  const level = options.level ?? process.env.CIDCAST_LOG_LEVEL ?? 'info'
  const output = options.output ?? process.stdout
  const format = options.format ?? 'auto'
  if (format === 'json' || (format === 'auto' && output.isTTY !== true)) {
    return options.output == null ? createLogger({ level }) : pino({ level, redact: REDACT }, { write: (line: string) => { output.write(line) } })
  }
  const { keepLoggedName, prettyDestination } = await import('./log-pretty.ts')
  return pino({ level, redact: REDACT, formatters: { log: keepLoggedName } }, prettyDestination(output, {
    colors: output.isTTY === true && output.hasColors?.() === true,
    stacks: level === 'debug' || level === 'trace'
  }))
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
