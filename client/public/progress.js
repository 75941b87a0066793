// Watch progress: when a saved position is worth offering, and reporting the position while a video plays.

import { putPosition } from './api.js'

/** How often the position is saved while playing. */
export const REPORT_INTERVAL_MS = 5000
/** Positions this close to the start are not worth resuming. */
const RESUME_MIN_SECONDS = 5
/** Positions this close to the end count as finished. */
const RESUME_END_MARGIN_SECONDS = 10

/**
 * Whether a saved position is worth offering: past the first 5 s and before the last 10 s.
 * @param {number | null | undefined} positionSeconds
 * @param {number | null | undefined} durationSeconds
 * @returns {positionSeconds is number}
 */
export function isResumable (positionSeconds, durationSeconds) {
  if (positionSeconds == null || !Number.isFinite(positionSeconds)) return false
  const end = durationSeconds != null && Number.isFinite(durationSeconds)
    ? durationSeconds - RESUME_END_MARGIN_SECONDS
    : Infinity
  return positionSeconds > RESUME_MIN_SECONDS && positionSeconds < end
}

/**
 * @typedef {object} ProgressReporter
 * @property {() => void} stop saves the position one last time and removes every listener
 */

/**
 * Saves `video`'s position for `mediaId` every 5 s while playing, on pause, on seeked, at the end and on pagehide.
 * Nothing is saved before playback first starts, so opening a page and leaving it never overwrites a saved position with 0.
 * @param {HTMLVideoElement} video
 * @param {string} mediaId
 * @param {{ onError?: (err: unknown) => void }} [hooks]
 * @returns {ProgressReporter}
 */
export function reportProgress (video, mediaId, hooks = {}) {
  let started = false
  let lastSent = -1

  const save = () => {
    if (!started) return
    const position = Math.round(video.currentTime * 10) / 10
    if (!Number.isFinite(position) || position === lastSent) return
    lastSent = position
    // keepalive lets the request outlive the page (pagehide, reload, closing the tab)
    putPosition(mediaId, position, { keepalive: true }).catch(err => {
      lastSent = -1
      hooks.onError?.(err)
    })
  }
  const onPlaying = () => { started = true }
  const onTick = () => { if (!video.paused) save() }

  video.addEventListener('playing', onPlaying)
  video.addEventListener('pause', save)
  video.addEventListener('seeked', save)
  video.addEventListener('ended', save)
  window.addEventListener('pagehide', save)
  const timer = setInterval(onTick, REPORT_INTERVAL_MS)

  return {
    stop () {
      save()
      clearInterval(timer)
      video.removeEventListener('playing', onPlaying)
      video.removeEventListener('pause', save)
      video.removeEventListener('seeked', save)
      video.removeEventListener('ended', save)
      window.removeEventListener('pagehide', save)
    }
  }
}
