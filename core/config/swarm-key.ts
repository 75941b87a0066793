import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { InvalidSwarmKeyError, SwarmKeyExistsError } from '../errors.ts'

/*
 * The private network's key as a file of the data folder, read at start-up by both daemons and written by `cidcast
 * init`: light (no libp2p), so every CLI verb may load it. core/net's protector turns the parsed key into a cipher.
 */

/** The swarm key's file name in a data folder (the main server's, and each CDN node's copy). */
export const SWARM_KEY_FILE = 'swarm.key'

/**
 * The Kubo / go-libp2p `swarm.key` format (PSK v1):
 *
 * ```
 * /key/swarm/psk/1.0.0/
 * /base16/
 * <64 hex digits>
 * ```
 *
 * Only the `/base16/` encoding is accepted: it is what `ipfs-swarm-key-gen` writes and the only one
 * `@libp2p/pnet` reads, so every peer of the network can use the same file.
 */
export const SWARM_KEY_HEADER = '/key/swarm/psk/1.0.0/'
export const SWARM_KEY_ENCODING = '/base16/'
/** Bytes in a pre-shared key. */
export const SWARM_KEY_BYTES = 32

const HEX_DIGITS = SWARM_KEY_BYTES * 2
const HEX = /^[0-9a-fA-F]*$/

export interface WriteSwarmKeyOptions {
  /** Replace a file that already exists. @default false */
  overwrite?: boolean
}

/** Generates a new random swarm key in the `swarm.key` text format (with a trailing newline, like Kubo's tool). */
export function generateSwarmKey (): string {
  return `${SWARM_KEY_HEADER}\n${SWARM_KEY_ENCODING}\n${randomBytes(SWARM_KEY_BYTES).toString('hex')}\n`
}

/** Parses `swarm.key` text (or its bytes) into the 32-byte key; throws InvalidSwarmKeyError saying what is wrong. */
export function parseSwarmKey (input: string | Uint8Array): Uint8Array {
  let text: string
  if (typeof input === 'string') {
    text = input
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input)
    } catch {
      throw new InvalidSwarmKeyError('swarm key is not UTF-8 text')
    }
  }
  // editors on Windows may add a byte order mark and CRLF line ends; neither changes the key
  const lines = text.replace(/^\uFEFF/, '').trim().split(/\r\n|\r|\n/).map(line => line.trim())
  if (lines.length === 1 && lines[0] === '') {
    throw new InvalidSwarmKeyError('swarm key is empty')
  }
  if (lines[0] !== SWARM_KEY_HEADER) {
    throw new InvalidSwarmKeyError(`swarm key must start with the line "${SWARM_KEY_HEADER}", found "${clip(lines[0])}"`)
  }
  if (lines.length < 2) {
    throw new InvalidSwarmKeyError(`swarm key has no encoding line; expected "${SWARM_KEY_ENCODING}"`)
  }
  if (lines[1] !== SWARM_KEY_ENCODING) {
    throw new InvalidSwarmKeyError(`swarm key encoding "${clip(lines[1])}" is not supported; expected "${SWARM_KEY_ENCODING}"`)
  }
  if (lines.length < 3) {
    throw new InvalidSwarmKeyError(`swarm key has no key line; expected ${HEX_DIGITS} hex digits`)
  }
  if (lines.length > 3) {
    throw new InvalidSwarmKeyError('swarm key has unexpected lines after the key')
  }
  const hex = lines[2]
  if (!HEX.test(hex)) {
    throw new InvalidSwarmKeyError(`swarm key line is not hexadecimal; expected ${HEX_DIGITS} hex digits`)
  }
  if (hex.length !== HEX_DIGITS) {
    throw new InvalidSwarmKeyError(`swarm key has ${hex.length} hex digits; expected ${HEX_DIGITS}`)
  }
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

/** Writes `swarm.key` text (validated first) with mode 0600; refuses to replace a file unless `overwrite` is set. */
export async function writeSwarmKey (path: string, text: string, options: WriteSwarmKeyOptions = {}): Promise<void> {
  parseSwarmKey(text)
  await mkdir(dirname(path), { recursive: true })
  try {
    await writeFile(path, text, { flag: options.overwrite === true ? 'w' : 'wx', mode: 0o600 })
  } catch (err: any) {
    if (err?.code === 'EEXIST') {
      throw new SwarmKeyExistsError(`a swarm key already exists at ${path}; refusing to overwrite it`)
    }
    throw err
  }
  // mode only applies when the file is created; an overwritten file keeps its old mode otherwise
  await chmod(path, 0o600)
}

/** Reads and parses a `swarm.key` file into the 32-byte key. */
export async function readSwarmKey (path: string): Promise<Uint8Array> {
  const bytes = await readFile(path)
  try {
    return parseSwarmKey(bytes)
  } catch (err: any) {
    throw new InvalidSwarmKeyError(`${path}: ${String(err?.message)}`)
  }
}

function clip (line: string | undefined): string {
  const value = line ?? ''
  return value.length > 40 ? `${value.slice(0, 40)}...` : value
}
