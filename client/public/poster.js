// Artwork for cards and pages: the stored image (the main server's /api/v1/images, on a node's site through its API
// proxy), else a coloured placeholder.

import { el, hueOf } from './dom.js'

/**
 * @typedef {import('./metadata-api.js').ImageRef} ImageRef
 */

/**
 * A picture box: the image when there is one, else a gradient coloured by `seed`; an optional corner label.
 * @param {ImageRef | null | undefined} image
 * @param {string} seed
 * @param {{ label?: string, shape?: 'poster' | 'wide' }} [options]
 * @returns {HTMLElement}
 */
export function artwork (image, seed, options = {}) {
  const node = el('div', { class: `thumb ${options.shape === 'poster' ? 'poster' : ''} ${image != null ? 'has-image' : ''}`, 'aria-hidden': 'true' })
  node.style.setProperty('--hue', String(hueOf(seed)))
  if (image != null && typeof image.url === 'string' && image.url.startsWith('/api/v1/images/')) {
    const img = el('img', { src: image.url, alt: '', loading: 'lazy', decoding: 'async' })
    // a picture that fails to load leaves the placeholder behind it
    img.addEventListener('error', () => { img.remove(); node.classList.remove('has-image') })
    node.append(img)
  }
  if (options.label != null) node.append(el('span', { class: 'badge' }, options.label))
  return node
}

/**
 * "S01E02" (or "S01E02-E03"), or '' when not an episode.
 * @param {{ season: number | null, episode: number | null, episodeEnd?: number | null }} item
 * @returns {string}
 */
export function episodeCode (item) {
  if (item.season == null || item.episode == null) return ''
  const two = (/** @type {number} */ n) => String(n).padStart(2, '0')
  const end = item.episodeEnd != null && item.episodeEnd > item.episode ? `-E${two(item.episodeEnd)}` : ''
  return `S${two(item.season)}E${two(item.episode)}${end}`
}
