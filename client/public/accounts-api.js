// The accounts part of /api/v1 for the admin page: users (admins only) and API tokens.

import { request } from './api.js'

/**
 * @typedef {import('./session.js').User} User
 * @typedef {import('./session.js').Role} Role
 * @typedef {{ id: string, userId: string, kind: 'session' | 'api', name: string | null, createdAt: string, lastUsedAt: string | null, expiresAt: string | null }} TokenView
 * @typedef {import('./api.js').RequestOptions} RequestOptions
 */

const enc = encodeURIComponent

/**
 * The users, and the folders the server watches for media (suggestions for a viewer's library folders).
 * @param {RequestOptions} [options]
 * @returns {Promise<{ users: User[], libraryFolders: string[] }>}
 */
export async function listUsers (options) {
  const answer = await request('GET', '/api/v1/users', undefined, options)
  return { users: answer?.items ?? [], libraryFolders: answer?.libraryFolders ?? [] }
}

/**
 * Adds a user with a random password, returned once.
 * @param {string} name
 * @param {Role} role
 * @returns {Promise<User & { password: string }>}
 */
export async function addUser (name, role) {
  return await request('POST', '/api/v1/users', { name, role })
}

/**
 * @param {string} name
 * @param {Role} role
 * @returns {Promise<User>}
 */
export async function setRole (name, role) {
  return await request('PATCH', `/api/v1/users/${enc(name)}`, { role })
}

/**
 * Limits a viewer to some library folders (absolute paths on the server), or lets them see every folder (null).
 * @param {string} name
 * @param {string[] | null} folders
 * @returns {Promise<User>}
 */
export async function setFolders (name, folders) {
  return await request('PATCH', `/api/v1/users/${enc(name)}`, { folders })
}

/**
 * @param {string} name
 * @returns {Promise<User>}
 */
export async function removeUser (name) {
  return await request('DELETE', `/api/v1/users/${enc(name)}`)
}

/**
 * Gives a user a new random password (their sessions end); resolves to it, shown once.
 * @param {string} name
 * @returns {Promise<string>}
 */
export async function resetPassword (name) {
  return (await request('PUT', `/api/v1/users/${enc(name)}/password`, {}))?.password ?? ''
}

/**
 * API tokens and sessions: the signed-in user's, or everyone's (`all`, admins).
 * @param {boolean} all
 * @param {RequestOptions} [options]
 * @returns {Promise<TokenView[]>}
 */
export async function listTokens (all, options) {
  return (await request('GET', `/api/v1/tokens${all ? '?all=1' : ''}`, undefined, options))?.items ?? []
}

/**
 * A new API token of the signed-in user; its text is in the answer only.
 * @param {string} name
 * @returns {Promise<TokenView & { token: string }>}
 */
export async function addToken (name) {
  return await request('POST', '/api/v1/tokens', { name })
}

/**
 * @param {string} id
 * @returns {Promise<void>}
 */
export async function removeToken (id) {
  await request('DELETE', `/api/v1/tokens/${enc(id)}`)
}
