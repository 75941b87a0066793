import { InvalidRequestError } from '../errors.ts'
import { InvalidNodeNameError, NodeNotFoundError } from './errors.ts'

/** Longest node name accepted, in characters (code points). */
export const MAX_NODE_NAME_CHARS = 300
/** Longest DNS label (RFC 1035). */
export const MAX_LABEL_CHARS = 63
/** The label of a name with nothing usable in it. */
export const FALLBACK_LABEL = 'node'
/** Labels a node never gets: names the zone may use for itself. A node asking for one gets a suffix. */
export const RESERVED_LABELS: ReadonlySet<string> = new Set(['ns', 'ns1', 'ns2', 'localhost', 'server'])

/*
 * Control characters (C0, DEL, C1) and the bidirectional overrides/isolates that make a name print as something
 * else in a terminal or a page. Refused outright rather than dropped: a name with them is a mistake or an attack.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what we look for
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u

/** Latin letters that Unicode decomposition leaves alone but that have a usual ASCII spelling. */
const TRANSLITERATION: Readonly<Record<string, string>> = {
  ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', đ: 'd', ð: 'd', þ: 'th', ł: 'l', ı: 'i', ŋ: 'ng', ħ: 'h', ĸ: 'k', ſ: 's'
}

/** Throws InvalidNodeNameError unless `name` is a string of at most 300 characters without control characters. */
export function checkNodeName (name: unknown): string {
  if (typeof name !== 'string') throw new InvalidNodeNameError('the node name must be a string')
  const chars = [...name].length
  if (chars > MAX_NODE_NAME_CHARS) {
    throw new InvalidNodeNameError(`the node name is ${chars} characters long; at most ${MAX_NODE_NAME_CHARS} are allowed`)
  }
  if (FORBIDDEN.test(name)) {
    throw new InvalidNodeNameError('the node name contains control or bidirectional-override characters')
  }
  return name
}

/**
 * Turns a node name into a DNS label: lowercase `a-z`, `0-9` and `-`, no `-` at either end, at most 63
 * characters. Accented letters lose their accents, other characters (dots, slashes, `<`, non-Latin letters)
 * separate words with one `-`; a name with nothing left becomes `node`. Throws InvalidNodeNameError for names
 * `checkNodeName` refuses.
 */
export function labelFromName (name: string): string {
  checkNodeName(name)
  const ascii = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\x00-\x7f]/gu, c => TRANSLITERATION[c] ?? '-') // eslint-disable-line no-control-regex -- ASCII range
  const label = ascii
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, MAX_LABEL_CHARS)
    .replace(/-+$/, '')
  return label === '' ? FALLBACK_LABEL : label
}

/** True if `label` is a label `labelFromName` could produce (or one of its suffixed forms). */
export function isLabel (label: string): boolean {
  return label.length <= MAX_LABEL_CHARS && /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(label)
}

/**
 * `base` if it is free, else `base-2`, `base-3`... (shortening `base` so the result stays within 63 characters).
 * Reserved labels count as taken.
 */
export function uniqueLabel (base: string, taken: (label: string) => boolean): string {
  const free = (label: string): boolean => !RESERVED_LABELS.has(label) && !taken(label)
  if (free(base)) return base
  for (let n = 2; ; n++) {
    const suffix = `-${n}`
    const stem = base.slice(0, MAX_LABEL_CHARS - suffix.length).replace(/-+$/, '')
    const candidate = `${stem === '' ? FALLBACK_LABEL : stem}${suffix}`
    if (free(candidate)) return candidate
  }
}

/** A node by label, peer ID or (unambiguous) name: the one lookup rule of the registry, the API and the CLI. */
export function findNode<T extends { label: string, peerId: string, name: string }> (nodes: Iterable<T>, nameOrLabel: string): T {
  const wanted = nameOrLabel.trim()
  const all = [...nodes]
  const match = all.find(n => n.label === wanted.toLowerCase()) ?? all.find(n => n.peerId === wanted)
  if (match != null) return match
  const named = all.filter(n => n.name === wanted)
  if (named.length > 1) throw new InvalidRequestError(`${named.length} nodes are named ${JSON.stringify(wanted)}: use a label (${named.map(n => n.label).join(', ')})`)
  if (named.length === 0) throw new NodeNotFoundError(`no node has the name, label or peer ID ${JSON.stringify(wanted.slice(0, 300))}`)
  return named[0]
}
