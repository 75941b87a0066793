// The user menu in the header: who is signed in and their role, "Change password", the admin page (admins only)
// and "Log out". On a CDN node's site, password and admin pages are the main server's.

import { el } from './dom.js'
import { describeError, showError } from './error-banner.js'
import { currentUser, isAdmin, logout, mainServerUrl, onNodeSite, onUserChange } from './session.js'

/**
 * Keeps `container` showing the menu of whoever is signed in (nothing when nobody is).
 * @param {HTMLElement} container
 */
export function mountUserMenu (container) {
  const render = () => {
    const user = currentUser()
    if (user == null) {
      container.replaceChildren()
      return
    }
    // a node's API proxy passes no account change: those pages are the main server's (when the node names it by URL)
    const server = mainServerUrl()
    const href = (/** @type {string} */ hash) => onNodeSite() ? (server != null ? `${server}/${hash}` : null) : hash
    const password = href('#/password')
    const admin = isAdmin() ? href('#/admin') : null
    const out = el('button', { id: 'menu-logout', type: 'button', role: 'menuitem' }, 'Log out')
    const menu = el('details', { class: 'user-menu', id: 'user-menu-toggle' },
      el('summary', { 'aria-label': `Signed in as ${user.name}, ${user.role}` },
        el('span', { id: 'user-name' }, user.name), ' ', el('span', { id: 'user-role', class: `role role-${user.role}` }, user.role)),
      el('div', { class: 'menu', role: 'menu' },
        password != null ? el('a', { id: 'menu-password', role: 'menuitem', href: password }, 'Change password') : null,
        admin != null ? el('a', { id: 'menu-admin', role: 'menuitem', href: admin }, 'Users and tokens') : null,
        out))
    out.addEventListener('click', () => {
      menu.open = false
      logout().catch(err => { showError(describeError('Could not log out', err)) })
    })
    // a choice closes the menu
    menu.querySelector('.menu')?.addEventListener('click', () => { menu.open = false })
    container.replaceChildren(menu)
  }
  // a click elsewhere closes it too, as menus do
  document.addEventListener('click', event => {
    const menu = container.querySelector('details')
    if (menu != null && menu.open && !menu.contains(/** @type {Node | null} */ (event.target))) menu.open = false
  })
  onUserChange(render)
  render()
}
