import { styleText } from 'node:util'
import type { LogOutput } from './logger.ts'

/**
 * Readable log lines for a terminal, from pino's JSON entries:
 * `14:03:07.412 INFO  node       CDN node ready url=http://10.0.0.5:8081 peerId=12D3KooW...`
 * (local time, level, the part, the message, a few fields). One entry is one line: control characters in messages
 * and values are escaped, so nothing logged can move the cursor or fake another line.
 */

export interface PrettyOptions {
  /** ANSI colours; the caller asks the terminal (`hasColors()`, which honours NO_COLOR). */
  colors: boolean
  /** Error stacks, indented under their line (at debug and trace). */
  stacks: boolean
}

type Style = Parameters<typeof styleText>[0]

const LEVELS: Record<number, { label: string, style: Style }> = {
  10: { label: 'TRACE', style: 'gray' },
  20: { label: 'DEBUG', style: 'blue' },
  30: { label: 'INFO', style: 'green' },
  40: { label: 'WARN', style: 'yellow' },
  50: { label: 'ERROR', style: 'red' },
  60: { label: 'FATAL', style: ['bold', 'red'] }
}
/**
 * Where `keepLoggedName` puts a `name` field given to a log call: pino writes the child logger's `name` (the part)
 * and such a field under the same key, and JSON keeps only the last one, which would show as the part.
 */
const LOGGED_NAME = '$name'
/** Keys shown in their own place (or pino's bookkeeping): not repeated as fields. */
const OWN_PLACE = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname', 'v', 'err'])
/** Key names (lower case, no `-` or `_`) whose values are secrets: never shown, whatever logged them. */
const SECRET = /(?:token|secret|passw(?:or)?d|apikey|authorization|cookie|swarmkey|psk)$|^(?:tmdbkey|tvdbkey|tvdbpin|omdbkey)$/
/** Width of the part column: most names fit (`transcoder`), longer ones push the message along. */
const PART_WIDTH = 10
/** Fields shown after the message; more are counted, not shown (the JSON format has them all). */
const MAX_FIELDS = 8
const MAX_VALUE_CHARS = 160

/** One readable line (and, with `stacks`, an error's stack under it) for a pino entry, ending in a newline. */
export function formatLogEntry (entry: Record<string, unknown>, options: PrettyOptions): string {
  const paint = (style: Style, text: string): string => options.colors ? styleText(style, text, { validateStream: false }) : text
  const level = LEVELS[Number(entry.level)] ?? { label: String(entry.level ?? '?').toUpperCase().slice(0, 5), style: 'white' as const }
  const part = typeof entry.name === 'string' ? entry.name.replace(/^cidcast:/, '') : ''
  const fields: string[] = []
  const err = errorOf(entry.err)
  if (err != null) fields.push(`${paint('dim', 'err=')}${paint(level.style, value(`${err.type}: ${err.message}`))}`)
  const rest = Object.entries(entry).filter(([key]) => !OWN_PLACE.has(key))
  for (const [field, raw] of rest.slice(0, MAX_FIELDS)) {
    const key = field === LOGGED_NAME ? 'name' : field
    fields.push(`${paint('dim', `${clean(key)}=`)}${SECRET.test(key.toLowerCase().replace(/[-_]/g, '')) ? '[redacted]' : value(raw)}`)
  }
  if (rest.length > MAX_FIELDS) fields.push(paint('dim', `(+${rest.length - MAX_FIELDS} more)`))
  const message = typeof entry.msg === 'string' ? clean(entry.msg) : ''
  let line = [
    paint('dim', clock(entry.time)),
    paint(level.style, level.label.padEnd(5)),
    paint('cyan', clean(part).padEnd(PART_WIDTH)),
    [message, ...fields].filter(s => s !== '').join(' ')
  ].join(' ').trimEnd() + '\n'
  if (options.stacks && err?.stack != null) {
    // the stack's first line repeats the type and message shown above
    line += err.stack.split('\n').slice(1).map(l => `    ${clean(l.trim())}\n`).join('')
  }
  return line
}

/** A pino `formatters.log`: moves a logged `name` field aside, so the line still shows the part that logged it. */
export function keepLoggedName (entry: Record<string, unknown>): Record<string, unknown> {
  if (!('name' in entry)) return entry
  const { name, ...rest } = entry
  return { ...rest, [LOGGED_NAME]: name }
}

/** A pino destination writing readable lines to `output` synchronously (so a line logged just before exit is shown). */
export function prettyDestination (output: LogOutput, options: PrettyOptions): { write: (line: string) => void } {
  return {
    write (line) {
      let entry: unknown
      try {
        entry = JSON.parse(line)
      } catch {
        output.write(line)
        return
      }
      output.write(entry != null && typeof entry === 'object' ? formatLogEntry(entry as Record<string, unknown>, options) : line)
    }
  }
}

/** `HH:MM:SS.mmm` in local time. */
function clock (time: unknown): string {
  const date = new Date(typeof time === 'number' ? time : Date.now())
  const two = (n: number): string => String(n).padStart(2, '0')
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`
}

/** pino's serialized error (`{ type, message, stack }`), or undefined. */
function errorOf (err: unknown): { type: string, message: string, stack?: string } | undefined {
  if (err == null) return undefined
  if (typeof err !== 'object') return { type: 'Error', message: String(err) }
  const e = err as { type?: unknown, name?: unknown, message?: unknown, stack?: unknown }
  const type = typeof e.type === 'string' ? e.type : typeof e.name === 'string' ? e.name : 'Error'
  return { type, message: typeof e.message === 'string' ? e.message : '', stack: typeof e.stack === 'string' ? e.stack : undefined }
}

/** A field's value, short and on one line: text as it is (quoted when it has spaces), lists joined, objects as JSON. */
function value (raw: unknown): string {
  const short = (text: string): string => text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}…` : text
  if (typeof raw === 'string') {
    const text = short(raw)
    return text === '' || /[\s"=]/.test(text) ? clean(JSON.stringify(text)) : clean(text)
  }
  if (Array.isArray(raw) && raw.every(item => item == null || typeof item !== 'object')) return value(raw.join(','))
  // numbers, booleans, null and objects: JSON is already one unambiguous token
  return clean(short(JSON.stringify(raw) ?? String(raw)))
}

/** Escapes control characters (newlines, ESC...) so one entry stays one line and cannot drive the terminal. */
function clean (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, c => JSON.stringify(c).slice(1, -1))
}
