// DOM helpers. Every piece of data reaches the page as a text node or an attribute value, never as markup.

/** @typedef {Node | string | number | null | undefined | false} Child */

/**
 * Creates an element with attributes and children; strings become text nodes, so titles never parse as HTML.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | number | boolean | null | undefined>} [attrs] `true` sets an empty attribute; null, undefined and false skip it
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el (tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue
    node.setAttribute(name, value === true ? '' : String(value))
  }
  for (const child of children) {
    if (child == null || child === false) continue
    node.append(typeof child === 'number' ? String(child) : child)
  }
  return node
}

/**
 * Formats seconds as m:ss, or h:mm:ss from one hour on; '–' when unknown.
 * @param {number | null | undefined} seconds
 * @returns {string}
 */
export function formatTime (seconds) {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return '–'
  const total = Math.floor(seconds)
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = String(total % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`
}

/**
 * The link to a media page; the id is URI-encoded, so it cannot leave the hash route.
 * @param {string} id
 * @returns {string}
 */
export function mediaHref (id) {
  return `#/media/${encodeURIComponent(id)}`
}

/**
 * A stable hue (0-359) for a string, so each media gets its own placeholder colour.
 * @param {string} text
 * @returns {number}
 */
export function hueOf (text) {
  let hash = 0
  for (let i = 0; i < text.length; i++) hash = (hash * 31 + text.charCodeAt(i)) >>> 0
  return hash % 360
}
