/*
 * A small XML parser for NFO sidecars, safe by construction: it refuses any DOCTYPE (so there are no external
 * entities and no entity-expansion bombs to defend against), knows only the five predefined entities and
 * character references, and bounds input size, depth, element count and attribute count. It returns every
 * top-level element, since Kodi writes one <episodedetails> per episode of a multi-episode file into one file,
 * and ignores text after the last element (Kodi allows a URL there).
 */

export interface XmlElement {
  name: string
  attributes: Record<string, string>
  children: XmlElement[]
  /** The element's own text (its text nodes and CDATA joined), untrimmed. */
  text: string
}

/** The document is not XML this parser accepts; `message` says where and why. */
export class XmlParseError extends Error {
  override readonly name = 'XmlParseError'
}

export interface XmlLimits {
  /** @default 1048576 characters */
  maxChars?: number
  /** @default 32 */
  maxDepth?: number
  /** @default 20000 */
  maxElements?: number
  /** @default 64 */
  maxAttributes?: number
}

const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }
const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y
const INVALID_CHARS = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u

/** Parses `text` into its top-level elements; throws XmlParseError on anything unsafe or malformed. */
export function parseXml (text: string, limits: XmlLimits = {}): XmlElement[] {
  return new Parser(text, limits).document()
}

class Parser {
  private pos = 0
  private elements = 0
  private readonly s: string
  private readonly maxDepth: number
  private readonly maxElements: number
  private readonly maxAttributes: number

  constructor (text: string, limits: XmlLimits) {
    const maxChars = limits.maxChars ?? 1_048_576
    if (text.length > maxChars) throw new XmlParseError(`document is longer than ${maxChars} characters`)
    this.s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
    this.maxDepth = limits.maxDepth ?? 32
    this.maxElements = limits.maxElements ?? 20_000
    this.maxAttributes = limits.maxAttributes ?? 64
  }

  document (): XmlElement[] {
    const roots: XmlElement[] = []
    for (;;) {
      this.skipMisc()
      if (this.pos >= this.s.length || this.s[this.pos] !== '<') break
      roots.push(this.element(1))
    }
    if (roots.length === 0) throw new XmlParseError('no root element')
    return roots
  }

  /** Whitespace, comments, processing instructions; a DOCTYPE is refused. */
  private skipMisc (): void {
    for (;;) {
      while (this.pos < this.s.length && /\s/.test(this.s[this.pos])) this.pos++
      if (this.s.startsWith('<?', this.pos)) {
        this.pos = this.until('?>', 'processing instruction') + 2
      } else if (this.s.startsWith('<!--', this.pos)) {
        this.pos = this.until('-->', 'comment') + 3
      } else if (this.s.startsWith('<!', this.pos)) {
        throw new XmlParseError(`a DOCTYPE or other declaration at ${this.pos} is not allowed`)
      } else {
        return
      }
    }
  }

  private until (marker: string, what: string): number {
    const end = this.s.indexOf(marker, this.pos)
    if (end < 0) throw new XmlParseError(`unterminated ${what} at ${this.pos}`)
    return end
  }

  private name (): string {
    NAME.lastIndex = this.pos
    const match = NAME.exec(this.s)
    if (match == null) throw new XmlParseError(`expected a name at ${this.pos}`)
    this.pos += match[0].length
    return match[0]
  }

  private element (depth: number): XmlElement {
    if (depth > this.maxDepth) throw new XmlParseError(`elements nest deeper than ${this.maxDepth}`)
    if (++this.elements > this.maxElements) throw new XmlParseError(`more than ${this.maxElements} elements`)
    this.pos++ // '<'
    const name = this.name()
    const attributes: Record<string, string> = Object.create(null)
    let count = 0
    for (;;) {
      const before = this.pos
      while (/\s/.test(this.s[this.pos] ?? '')) this.pos++
      const c = this.s[this.pos]
      if (c === undefined) throw new XmlParseError(`unterminated tag <${name}>`)
      if (c === '>') { this.pos++; break }
      if (this.s.startsWith('/>', this.pos)) {
        this.pos += 2
        return { name, attributes, children: [], text: '' }
      }
      if (this.pos === before) throw new XmlParseError(`expected whitespace before an attribute at ${this.pos}`)
      const key = this.name()
      while (/\s/.test(this.s[this.pos] ?? '')) this.pos++
      if (this.s[this.pos] !== '=') throw new XmlParseError(`expected '=' after attribute ${key}`)
      this.pos++
      while (/\s/.test(this.s[this.pos] ?? '')) this.pos++
      const quote = this.s[this.pos]
      if (quote !== '"' && quote !== "'") throw new XmlParseError(`attribute ${key} is not quoted`)
      const end = this.s.indexOf(quote, this.pos + 1)
      if (end < 0) throw new XmlParseError(`unterminated attribute ${key}`)
      const raw = this.s.slice(this.pos + 1, end)
      if (raw.includes('<')) throw new XmlParseError(`'<' in attribute ${key}`)
      if (key in attributes) throw new XmlParseError(`attribute ${key} given twice`)
      if (++count > this.maxAttributes) throw new XmlParseError(`more than ${this.maxAttributes} attributes on <${name}>`)
      attributes[key] = decodeEntities(raw)
      this.pos = end + 1
    }
    const children: XmlElement[] = []
    let text = ''
    for (;;) {
      const lt = this.s.indexOf('<', this.pos)
      if (lt < 0) throw new XmlParseError(`<${name}> is never closed`)
      text += decodeEntities(this.s.slice(this.pos, lt))
      this.pos = lt
      if (this.s.startsWith('</', this.pos)) {
        this.pos += 2
        const closing = this.name()
        if (closing !== name) throw new XmlParseError(`</${closing}> closes <${name}>`)
        while (/\s/.test(this.s[this.pos] ?? '')) this.pos++
        if (this.s[this.pos] !== '>') throw new XmlParseError(`expected '>' after </${closing}`)
        this.pos++
        return { name, attributes, children, text }
      }
      if (this.s.startsWith('<![CDATA[', this.pos)) {
        const end = this.until(']]>', 'CDATA section')
        text += this.s.slice(this.pos + 9, end)
        this.pos = end + 3
      } else if (this.s.startsWith('<!--', this.pos)) {
        this.pos = this.until('-->', 'comment') + 3
      } else if (this.s.startsWith('<?', this.pos)) {
        this.pos = this.until('?>', 'processing instruction') + 2
      } else if (this.s.startsWith('<!', this.pos)) {
        throw new XmlParseError(`a declaration inside <${name}> is not allowed`)
      } else {
        children.push(this.element(depth + 1))
      }
    }
  }
}

/** Replaces the five predefined entities and character references; any other entity is refused. */
function decodeEntities (raw: string): string {
  if (!raw.includes('&')) return checkChars(raw)
  return checkChars(raw.replace(/&([^;&\s]{0,12});?/g, (all, ref: string) => {
    // a bare '&' (as in "Tom & Jerry") is kept as written, the way lenient NFO readers do
    if (!all.endsWith(';')) return all
    if (ref in PREDEFINED) return PREDEFINED[ref]
    const code = /^#x([0-9a-f]{1,6})$/i.exec(ref)?.[1] ?? /^#([0-9]{1,7})$/.exec(ref)?.[1]
    if (code == null) throw new XmlParseError(`unknown entity &${ref}; (only the predefined ones are allowed)`)
    const n = ref.startsWith('#x') || ref.startsWith('#X') ? parseInt(code, 16) : Number(code)
    if (n > 0x10ffff) throw new XmlParseError(`character reference &${ref}; is out of range`)
    return checkChars(String.fromCodePoint(n))
  }))
}

function checkChars (text: string): string {
  if (INVALID_CHARS.test(text)) throw new XmlParseError('a character that XML does not allow')
  return text
}

/** Escapes text for an XML element or attribute value, dropping characters XML 1.0 cannot carry. */
export function escapeXml (text: string): string {
  return text.toWellFormed()
    .replace(/[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, '')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Serialises an element tree with two-space indentation (text-only elements stay on one line). */
export function serializeXml (element: XmlElement, indent = ''): string {
  const attrs = Object.entries(element.attributes).map(([k, v]) => ` ${k}="${escapeXml(v)}"`).join('')
  if (element.children.length === 0) {
    return element.text === '' ? `${indent}<${element.name}${attrs} />` : `${indent}<${element.name}${attrs}>${escapeXml(element.text)}</${element.name}>`
  }
  const inner = element.children.map(child => serializeXml(child, indent + '  ')).join('\n')
  const text = element.text.trim() === '' ? '' : `${indent}  ${escapeXml(element.text.trim())}\n`
  return `${indent}<${element.name}${attrs}>\n${text}${inner}\n${indent}</${element.name}>`
}

/** The first child named `name`. */
export function child (element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find(c => c.name === name)
}

/** The trimmed text of the first child named `name`, if it has any. */
export function childText (element: XmlElement, name: string): string | undefined {
  const text = child(element, name)?.text.trim()
  return text == null || text === '' ? undefined : text
}
