// Attaches an HLS playlist to a <video>: hls.js where Media Source Extensions exist, else the browser's own HLS.

import { withToken } from './play-url.js'

/**
 * hls.min.js is a classic script that sets window.Hls; the type comes from the hls.js package for checking only.
 * @typedef {import('hls.js').default} HlsInstance
 * @typedef {typeof import('hls.js').default} HlsClass
 * @typedef {{ index: number, label: string, height: number }} QualityLevel
 */

/**
 * @typedef {object} PlaybackHooks
 * @property {(message: string) => void} onError a fatal playback error, as a readable line
 * @property {(levels: QualityLevel[]) => void} [onLevels] the quality levels, highest first, once the playlist is read
 * @property {(label: string) => void} [onAutoLevel] the level Auto picked, whenever it changes
 * @property {() => string | null} [token] the newest stream token: every request that carries one (playlists carry
 *   the play URL's token to their children) is sent with this one instead, so a renewed URL needs no reload
 */

/**
 * @typedef {object} Playback
 * @property {HlsInstance | null} hls the hls.js instance (null with native HLS)
 * @property {(positionSeconds: number) => void} start begins loading at a position and plays
 * @property {(index: number) => void} setLevel picks a level by index; -1 is Auto
 * @property {() => void} destroy detaches and frees everything
 */

/** @returns {HlsClass | undefined} */
function hlsClass () {
  return /** @type {{ Hls?: HlsClass }} */ (/** @type {unknown} */ (window)).Hls
}

/**
 * Attaches `src` to `video` without loading segments until `start()` says where, so a resume never fetches
 * the beginning first.
 * @param {HTMLVideoElement} video
 * @param {string} src master playlist URL
 * @param {PlaybackHooks} hooks
 * @returns {Playback}
 */
export function attachPlayback (video, src, hooks) {
  const Hls = hlsClass()
  if (Hls?.isSupported() === true) return attachHlsJs(Hls, video, src, hooks)
  if (video.canPlayType('application/vnd.apple.mpegurl') !== '') return attachNative(video, src, hooks)
  hooks.onError('This browser cannot play HLS (no Media Source Extensions, no native HLS)')
  return { hls: null, start () {}, setLevel () {}, destroy () {} }
}

/**
 * @param {HlsClass} Hls
 * @param {HTMLVideoElement} video
 * @param {string} src
 * @param {PlaybackHooks} hooks
 * @returns {Playback}
 */
function attachHlsJs (Hls, video, src, hooks) {
  const token = hooks.token
  const hls = new Hls({
    autoStartLoad: false,
    startPosition: 0,
    // hls.js opens the request itself unless this did
    ...(token == null
      ? {}
      : {
          xhrSetup (/** @type {XMLHttpRequest} */ xhr, /** @type {string} */ url) {
            const current = token()
            if (current != null) xhr.open('GET', withToken(url, current), true)
          }
        })
  })
  let parsed = false
  /** @type {number | null} */
  let pending = null

  const load = (/** @type {number} */ position) => {
    hls.startLoad(position > 0 ? position : 0)
    play(video)
  }

  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    parsed = true
    hooks.onLevels?.(hls.levels
      .map((level, index) => ({ index, label: levelLabel(level), height: level.height ?? 0 }))
      .sort((a, b) => b.height - a.height))
    if (pending != null) load(pending)
  })
  hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => {
    if (hls.autoLevelEnabled) hooks.onAutoLevel?.(levelLabel(hls.levels[data.level]))
  })
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (!data.fatal) return
    const detail = data.response?.code != null ? ` (HTTP ${data.response.code})` : ''
    hooks.onError(`Playback failed: ${data.type} ${data.details}${detail}${data.reason != null ? ': ' + data.reason : ''}`)
  })
  hls.loadSource(src)
  hls.attachMedia(video)

  return {
    hls,
    start (position) {
      if (parsed) load(position)
      else pending = position
    },
    setLevel (index) {
      // currentLevel flushes the buffer and switches at once; -1 hands the choice back to the ABR controller
      hls.currentLevel = index
    },
    destroy () { hls.destroy() }
  }
}

/**
 * @param {HTMLVideoElement} video
 * @param {string} src
 * @param {PlaybackHooks} hooks
 * @returns {Playback}
 */
function attachNative (video, src, hooks) {
  const onError = () => {
    const err = video.error
    hooks.onError(`Playback failed: media error ${err?.code ?? '?'}${err?.message ? ': ' + err.message : ''}`)
  }
  video.addEventListener('error', onError)
  video.preload = 'metadata'
  video.src = src
  hooks.onLevels?.([])
  return {
    hls: null,
    start (position) {
      if (position > 0) {
        if (video.readyState >= video.HAVE_METADATA) video.currentTime = position
        else video.addEventListener('loadedmetadata', () => { video.currentTime = position }, { once: true })
      }
      play(video)
    },
    setLevel () {},
    destroy () {
      video.removeEventListener('error', onError)
      video.removeAttribute('src')
      video.load()
    }
  }
}

/**
 * The menu label of a level: its playlist NAME (the profile), else its height.
 * @param {{ name?: string, height?: number } | undefined} level
 * @returns {string}
 */
function levelLabel (level) {
  if (level == null) return '?'
  if (level.name != null && level.name !== '') return level.name
  return level.height ? `${level.height}p` : '?'
}

/**
 * Starts playback; a refused autoplay leaves the native controls to the viewer.
 * @param {HTMLVideoElement} video
 */
function play (video) {
  video.play().catch(() => {})
}
