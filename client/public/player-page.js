// #/media/{id}: the player, the node it plays from, the quality menu, the resume prompt and the media's details.

import { getMedia, getPosition } from './api.js'
import { el, formatTime } from './dom.js'
import { describeError, showError } from './error-banner.js'
import { mediaInfo } from './media-info.js'
import { createNodePicker } from './node-picker.js'
import { keepFresh } from './play-url.js'
import { attachPlayback } from './playback.js'
import { isResumable, reportProgress } from './progress.js'

/**
 * @typedef {import('./api.js').Media} Media
 * @typedef {import('./playback.js').QualityLevel} QualityLevel
 */

/**
 * Renders the player page for `id` into `root`; resolves to a function that tears it down.
 * @param {HTMLElement} root
 * @param {string} id
 * @param {AbortSignal} signal aborted when the viewer leaves the page
 * @returns {Promise<() => void>}
 */
export async function showPlayerPage (root, id, signal) {
  // both requests at once; a missing position must not block playback
  const position = getPosition(id, { signal }).then(value => ({ value, err: undefined }), err => ({ value: null, err }))
  const media = await getMedia(id, { signal })
  const { value: saved, err } = await position
  if (signal.aborted) return () => {}
  if (err != null) showError(describeError('Could not read the saved position', err))
  document.title = `${media.title} · cidcast`

  const video = el('video', { id: 'player', muted: true, playsinline: true, controls: true, preload: 'none' })
  video.muted = true // the attribute only sets defaultMuted once the element exists
  const quality = el('select', { id: 'quality', 'aria-label': 'Quality' }, el('option', { value: '-1' }, 'Auto'))
  const prompt = el('div', { class: 'resume', hidden: true })
  /** @type {import('./playback.js').Playback | null} */
  let playback = null
  // for tests and the console: the hls.js instance, the element it drives, the playlist it plays and its newest token
  const handle = /** @type {Window & { cidcast?: { hls: unknown, video: HTMLVideoElement, src: string | null, token?: () => string | null } }} */ (window)
  handle.cidcast = { hls: null, video, src: null }
  /** @type {((position: number) => void) | null} */
  let begin = null
  /** @type {import('./play-url.js').Renewal | null} */
  let renewal = null
  /** @type {(source: import('./node-picker.js').Source) => void} */
  const useSource = ({ src, first, renew }) => {
    // a new source (another node, or the node a replication just finished on) goes on from where the video is
    const position = playback == null ? null : video.currentTime
    playback?.destroy()
    renewal?.stop()
    const fresh = keepFresh(first, renew, err => showError(describeError('Could not renew the play URL', err)))
    renewal = fresh
    playback = attachPlayback(video, src, {
      onError: showError,
      onLevels: levels => fillQualityMenu(quality, levels),
      onAutoLevel: label => { quality.options[0].textContent = `Auto (${label})` },
      token: fresh.token
    })
    handle.cidcast = { hls: playback.hls, video, src, token: fresh.token }
    if (position != null) playback.start(position)
    else begin?.(0)
  }
  const picker = createNodePicker(media, signal, { onSource: source => useSource(source) })

  root.replaceChildren(
    el('article', { class: 'player-page' },
      el('a', { class: 'back', href: '#/' }, '← Library'),
      el('div', { class: 'stage' }, video, prompt),
      el('div', { class: 'toolbar' },
        el('h1', { class: 'title' }, media.title),
        el('label', { class: 'quality' }, 'Quality ', quality)
      ),
      picker.element,
      mediaInfo(media, signal),
      details(media)
    )
  )

  quality.addEventListener('change', () => playback?.setLevel(Number(quality.value)))
  const reporter = reportProgress(video, media.id, {
    onError: err => showError(describeError('Could not save the position', err))
  })

  // the first source may come later (the viewer's node lacks the media and must choose): start once it is there
  /** @type {(start: (position: number) => void) => void} */
  const whenPlaying = start => {
    if (playback != null) start(0)
    else begin = start
  }
  if (isResumable(saved, media.durationSeconds)) {
    offerResume(prompt, video, saved, position => whenPlaying(() => playback?.start(position)))
  } else {
    whenPlaying(() => playback?.start(0))
  }

  return () => {
    picker.destroy()
    reporter.stop()
    renewal?.stop()
    playback?.destroy()
    delete handle.cidcast
  }
}

/**
 * Shows "Continue from mm:ss" and "Start over"; either one (or the video's own play button) starts playback once.
 * @param {HTMLElement} prompt
 * @param {HTMLVideoElement} video
 * @param {number} saved
 * @param {(position: number) => void} start
 */
function offerResume (prompt, video, saved, start) {
  let chosen = false
  const choose = (/** @type {number} */ position) => {
    if (chosen) return
    chosen = true
    prompt.hidden = true
    video.removeEventListener('play', onPlay)
    start(position)
  }
  const onPlay = () => choose(saved)
  const resume = el('button', { id: 'resume', type: 'button', class: 'primary' }, `Continue from ${formatTime(saved)}`)
  const over = el('button', { id: 'start-over', type: 'button' }, 'Start over')
  resume.addEventListener('click', () => choose(saved))
  over.addEventListener('click', () => choose(0))
  // pressing play on the video itself means "go on from where I was"
  video.addEventListener('play', onPlay)
  prompt.replaceChildren(resume, over)
  prompt.hidden = false
  resume.focus()
}

/**
 * Replaces the menu with Auto plus one option per level (value = hls.js level index).
 * @param {HTMLSelectElement} select
 * @param {QualityLevel[]} levels
 */
function fillQualityMenu (select, levels) {
  select.replaceChildren(
    el('option', { value: '-1' }, 'Auto'),
    ...levels.map(level => el('option', { value: level.index }, level.label))
  )
  select.disabled = levels.length === 0
}

/**
 * The media's facts: duration, source streams, renditions and their CIDs.
 * @param {Media} media
 * @returns {HTMLElement}
 */
function details (media) {
  const facts = [formatTime(media.durationSeconds)]
  if (media.video != null) facts.push(`${media.video.width}×${media.video.height} ${media.video.codec}`)
  if (media.audio != null) facts.push(`audio ${media.audio.codec}`)
  return el('section', { class: 'details' },
    el('p', { class: 'facts' }, facts.join(' · ')),
    el('dl', {},
      el('dt', {}, 'Source CID'), el('dd', { class: 'cid' }, media.sourceCid ?? '–')
    ),
    el('table', { class: 'renditions' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Profile'), el('th', {}, 'Size'), el('th', {}, 'State'), el('th', {}, 'Root CID'))),
      el('tbody', {}, ...media.renditions.map(r => el('tr', {},
        el('td', {}, r.profile),
        el('td', {}, r.width != null && r.height != null ? `${r.width}×${r.height}` : '–'),
        el('td', {}, el('span', { class: `state state-${r.state}` }, r.state)),
        el('td', { class: 'cid' }, r.root ?? '–')
      )))
    )
  )
}
