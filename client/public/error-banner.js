// The one visible error line (#error) shared by every page.

/** @returns {HTMLElement | null} */
function banner () {
  return document.getElementById('error')
}

/**
 * Shows `message` in the error banner (as text).
 * @param {string} message
 */
export function showError (message) {
  const node = banner()
  if (node == null) return
  node.textContent = message
  node.hidden = false
}

/** Hides and empties the error banner. */
export function clearError () {
  const node = banner()
  if (node == null) return
  node.textContent = ''
  node.hidden = true
}

/**
 * A readable line for an error thrown by the API client or anything else.
 * @param {string} what what was being done, e.g. "Could not load the library"
 * @param {unknown} err
 * @returns {string}
 */
export function describeError (what, err) {
  if (err instanceof Error) return `${what}: ${err.name === 'Error' ? '' : err.name + ': '}${err.message}`
  return `${what}: ${String(err)}`
}
