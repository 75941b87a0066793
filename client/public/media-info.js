// The metadata under the player: series and episode, or year and collection; the overview; next item; edit link
// (admins).

import { el, mediaHref } from './dom.js'
import { collectionHref, seasonHref, seriesHref } from './cards.js'
import { nextItem } from './metadata-api.js'
import { episodeCode } from './poster.js'
import { adminHere } from './session.js'

/**
 * @typedef {import('./api.js').Media & Partial<import('./metadata-api.js').Metadata>} MediaWithMetadata
 */

/**
 * Renders the media's metadata block; the "next" link fills in when the server answers.
 * @param {MediaWithMetadata} media
 * @param {AbortSignal} signal
 * @returns {HTMLElement}
 */
export function mediaInfo (media, signal) {
  const line = []
  if (media.series != null) {
    line.push(el('a', { class: 'series-link', href: seriesHref(media.series.id) }, media.series.title))
    if (media.season != null) {
      line.push(' · ', el('a', { class: 'season-link', href: seasonHref(media.series.id, media.season) }, episodeCode({ season: media.season, episode: media.episode ?? null, episodeEnd: media.episodeEnd })))
    }
  }
  if (media.year != null) line.push(line.length > 0 ? ` · ${media.year}` : String(media.year))
  if (media.collection != null) line.push(' · ', el('a', { class: 'collection-link', href: collectionHref(media.collection.id) }, media.collection.title))
  const next = el('p', { class: 'next', hidden: true })
  const node = el('section', { class: 'media-info' },
    line.length > 0 ? el('p', { class: 'subtitle' }, ...line) : null,
    media.tagline != null ? el('p', { class: 'tagline' }, media.tagline) : null,
    media.overview != null ? el('p', { class: 'overview' }, media.overview) : null,
    next,
    // editing is for admins, on the main server's own pages (a node's API proxy passes no edit)
    adminHere() ? el('p', { class: 'actions' }, el('a', { id: 'edit-metadata', class: 'button-link', href: `${mediaHref(media.id)}/edit` }, 'Edit metadata')) : null
  )
  nextItem(media.id, { signal }).then(item => {
    if (item == null || signal.aborted) return
    const code = episodeCode(item)
    next.replaceChildren('Next: ', el('a', { id: 'next-item', href: mediaHref(item.id) }, code !== '' ? `${code} · ${item.title}` : item.title))
    next.hidden = false
  }, () => {})
  return node
}
