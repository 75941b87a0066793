import { InvalidArgumentError, Option } from 'commander'
import { byteSize, LOG_FORMATS, LOG_LEVELS } from '../core/config/index.ts'

/*
 * What both programs share: `cidcast` (node/cli.ts) and `cidcast-node` (node/node-main.ts, the single executable).
 * Loads nothing heavy: `cidcast --help` and `cidcast-node --version` stay quick.
 */

/** `--log-level`, the same for both daemons. */
export function logLevelOption (): Option {
  return new Option('--log-level <level>', 'log level (env CIDCAST_LOG_LEVEL, default info)').choices([...LOG_LEVELS])
}

/** `--log-format`, the same for both daemons. */
export function logFormatOption (): Option {
  return new Option('--log-format <format>', 'log lines: pretty (readable), json, or auto: pretty on a terminal, else json (env CIDCAST_LOG_FORMAT, default auto)').choices(LOG_FORMATS)
}

/** Prints one readable line for an error (never a stack trace) and sets a failing exit code. */
export function fail (err: unknown): never {
  const e = err as { name?: string, code?: string, message?: string }
  const name = typeof e?.code === 'string' && /Error$/.test(e.code) ? e.code : (e?.name ?? 'Error')
  process.stderr.write(`error: ${name}: ${(e?.message ?? String(err)).split('\n')[0]}\n`)
  process.exit(1)
}

/** A size such as 500MB or 10GiB, or a number of bytes (the same parser as the config's). */
export function size (value: string): number {
  try {
    return byteSize(value, 'size')
  } catch {
    throw new InvalidArgumentError('must be a number of bytes or a size such as 500MB or 10GiB')
  }
}

/** A whole number >= 1, for commander. */
export function positiveInt (value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number >= 1')
  return n
}

/** Runs `stop` on SIGINT/SIGTERM once, then exits. */
export function stopOnSignals (stop: () => Promise<void>): void {
  let stopping = false
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) return
    stopping = true
    process.stderr.write(`${signal}: stopping\n`)
    stop().then(() => process.exit(0), err => fail(err))
  }
  process.once('SIGINT', handler)
  process.once('SIGTERM', handler)
}
