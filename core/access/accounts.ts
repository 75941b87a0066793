import { createHash, randomBytes } from 'node:crypto'
import { posix } from 'node:path'
import { systemClock } from '../clock.ts'
import { USER_NAME } from '../control/index.ts'
import { InvalidRequestError } from '../errors.ts'
import { AccountExistsError, AccountNotFoundError, InvalidCredentialsError, LastAdminError } from './errors.ts'
import { DEFAULT_SCRYPT_COST, generatePassword, hashPassword, verifyPassword } from './passwords.ts'
import type { Clock } from '../clock.ts'
import type { Logger } from '../logger.ts'
import type { AccessRepository, TokenRecord, UserRecord } from '../catalog/index.ts'
import type { ScryptCost } from './passwords.ts'

/*
 * Accounts of the main server: users with a role and a scrypt password hash, and the bearer tokens they hold
 * (login sessions, and named API tokens for scripts). A token is 32 random bytes behind a prefix that says its
 * kind (`ccs_` session, `cca_` API token, so secret scanners and people can tell them apart); only its SHA-256 is
 * stored, so a copy of the database logs nobody in. Sessions expire 30 days after their last use; API tokens live
 * until removed. Nothing here logs a password or a token.
 */

/** A user's role. */
export type Role = 'admin' | 'viewer'
/** What a bearer token is: a login session or a named API token. */
export type TokenKind = 'session' | 'api'

export const ROLES: readonly Role[] = ['admin', 'viewer']
/** The first admin's name when the server makes one itself. */
export const FIRST_ADMIN = 'admin'
const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000
/** A token's last use is written at most this often (a write per request would queue behind every catalog write). */
const TOUCH_EVERY_MS = 60_000
/** How long a token's check is remembered; removals and password changes forget at once. */
const CACHE_MS = 30_000
const CACHE_MAX = 10_000
// the control protocol checks a node's owner by the same rule
const NAME = USER_NAME
const TOKEN = /^cc[sa]_[A-Za-z0-9_-]{43}$/
const MIN_PASSWORD = 8
const MAX_PASSWORD = 1024

/** A user as the API shows them: never the hash. */
export interface User {
  id: string
  name: string
  role: Role
  /** Library folders they may see; null: all. */
  folders: string[] | null
  createdAt: string
}

/** A token as listings show it: never its text. */
export interface TokenView {
  id: string
  userId: string
  kind: TokenKind
  name: string | null
  createdAt: string
  lastUsedAt: string | null
  expiresAt: string | null
}

/** Who a token belongs to, once checked. */
export interface Authenticated {
  user: User
  tokenId: string
  kind: TokenKind
}

/** A token just made: its text, shown once, and how it is listed. */
export interface IssuedToken {
  token: string
  view: TokenView
}

export interface AccountsComponents {
  repository: AccessRepository
  logger: Logger
  /** @default systemClock */
  clock?: Clock
}

export interface AccountsInit {
  /** scrypt's cost for new hashes (tests lower it). @default N=2^17, r=8, p=1 */
  scryptCost?: ScryptCost
  /** A session lasts this long after its last use. @default 30 days */
  sessionTtlMs?: number
}

/** Users, logins and tokens. */
export interface Accounts {
  /** Makes the first admin (`admin`, a random password) when there is no user; returns them and the password once. */
  ensureFirstAdmin (): Promise<{ user: User, password: string } | undefined>
  /** Adds a user; a random password unless one is given (returned either way, once). */
  addUser (input: { name: string, role: Role, password?: string, folders?: string[] | null }): Promise<{ user: User, password: string }>
  listUsers (): Promise<User[]>
  /** A user by name or id; AccountNotFoundError when none. */
  getUser (nameOrId: string): Promise<User>
  /** Removes a user and their tokens; the last admin cannot go. */
  removeUser (nameOrId: string): Promise<User>
  /** Sets a new password (random unless given) and ends the user's sessions; returns the password once. */
  setPassword (nameOrId: string, password?: string): Promise<string>
  /** Changes role and/or folders; the last admin cannot be demoted; folders are for viewers (an admin's are cleared). */
  updateUser (nameOrId: string, change: { role?: Role, folders?: string[] | null }): Promise<User>
  /** Checks a name and password; a new session on success, InvalidCredentialsError (never saying which was wrong) otherwise. */
  login (name: string, password: string): Promise<{ token: string, user: User, expiresAt: string }>
  /** Ends the session or removes the API token whose text this is; unknown text is no error. */
  logout (token: string): Promise<void>
  /** The owner of a bearer token, or undefined when it is malformed, unknown or expired. */
  authenticate (token: string): Promise<Authenticated | undefined>
  /** A new named API token for a user. */
  addApiToken (nameOrId: string, tokenName: string): Promise<IssuedToken>
  /** Tokens of a user, or of everyone. */
  listTokens (nameOrId?: string): Promise<TokenView[]>
  /** Removes a token by id; `ownerId` limits it to that user's tokens. */
  removeToken (id: string, ownerId?: string): Promise<void>
  /** Drops expired sessions from the database. */
  sweep (): Promise<number>
}

/** Checks a user name: trimmed, lower case, 1-64 of a-z 0-9 . _ @ -, starting with a letter or digit. */
export function checkUserName (name: unknown): string {
  const folded = typeof name === 'string' ? name.trim().toLowerCase() : ''
  if (!NAME.test(folded)) throw new InvalidRequestError('a user name is 1-64 of a-z, 0-9, ".", "_", "@" and "-", starting with a letter or digit')
  return folded
}

function checkPassword (password: unknown): string {
  if (typeof password !== 'string' || [...password].length < MIN_PASSWORD || password.length > MAX_PASSWORD) {
    throw new InvalidRequestError(`a password is ${MIN_PASSWORD} to ${MAX_PASSWORD} characters`)
  }
  return password
}

function checkTokenName (name: unknown): string {
  const trimmed = typeof name === 'string' ? name.trim() : ''
  if (!/^[\p{L}\p{N}][\p{L}\p{N} ._@-]{0,63}$/u.test(trimmed)) throw new InvalidRequestError('a token name is 1-64 letters, digits, spaces, ".", "_", "@" and "-"')
  return trimmed
}

/** SHA-256 of a token's text, hex: how it is kept and looked up. */
export function tokenHash (token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/** Opens the accounts service on its repository. */
export function createAccounts (components: AccountsComponents, init: AccountsInit = {}): Accounts {
  const { repository } = components
  const clock = components.clock ?? systemClock
  const log = components.logger.child({ name: 'cidcast:accounts' })
  const cost = init.scryptCost ?? DEFAULT_SCRYPT_COST
  const sessionTtlMs = init.sessionTtlMs ?? SESSION_TTL_MS
  // token hash -> the answer and when it was read
  const cache = new Map<string, { auth: Authenticated, token: TokenRecord, readAtMs: number }>()
  // checked when a name is unknown, so a wrong name costs as long as a wrong password
  let decoy: Promise<string> | undefined

  function forget (userId?: string): void {
    if (userId == null) {
      cache.clear()
      return
    }
    for (const [hash, entry] of cache) if (entry.auth.user.id === userId) cache.delete(hash)
  }

  async function find (nameOrId: string): Promise<UserRecord> {
    const byId = /^[0-9a-f]{16}$/.test(nameOrId) ? await repository.userById(nameOrId) : undefined
    const user = byId ?? (typeof nameOrId === 'string' && NAME.test(nameOrId.trim().toLowerCase()) ? await repository.userByName(nameOrId.trim().toLowerCase()) : undefined)
    if (user == null) throw new AccountNotFoundError(`no user ${JSON.stringify(String(nameOrId).slice(0, 64))}`)
    return user
  }

  async function assertAdminStays (user: UserRecord): Promise<void> {
    if (user.role !== 'admin') return
    const admins = (await repository.users()).filter(u => u.role === 'admin')
    if (admins.length <= 1) throw new LastAdminError(`${user.name} is the last admin: make another admin first`)
  }

  async function issue (user: UserRecord, kind: TokenKind, name: string | null): Promise<IssuedToken> {
    const token = `cc${kind === 'session' ? 's' : 'a'}_${randomBytes(32).toString('base64url')}`
    const now = clock.now()
    const record: TokenRecord = {
      id: randomBytes(8).toString('hex'),
      userId: user.id,
      kind,
      name,
      hash: tokenHash(token),
      createdAtMs: now,
      lastUsedAtMs: null,
      expiresAtMs: kind === 'session' ? now + sessionTtlMs : null
    }
    if (!await repository.addToken(record)) throw new AccountExistsError(`${user.name} already has a token named ${JSON.stringify(name)}`)
    return { token, view: tokenView(record) }
  }

  const accounts: Accounts = {
    async ensureFirstAdmin () {
      if ((await repository.users()).length > 0) return undefined
      const made = await accounts.addUser({ name: FIRST_ADMIN, role: 'admin' })
      // playback progress from before accounts was kept for one "default" viewer: it becomes the first admin's
      const moved = await repository.moveProgress('default', made.user.id)
      log.info({ user: made.user.name, movedProgress: moved }, 'created the first admin')
      return made
    },

    async addUser (input) {
      const name = checkUserName(input.name)
      if (!ROLES.includes(input.role)) throw new InvalidRequestError(`role must be one of ${ROLES.join(', ')}`)
      const password = input.password == null ? generatePassword() : checkPassword(input.password)
      const now = clock.now()
      const record: UserRecord = {
        id: randomBytes(8).toString('hex'),
        name,
        role: input.role,
        passwordHash: await hashPassword(password, cost),
        folders: foldersFor(input.role, checkFolders(input.folders ?? null)),
        createdAtMs: now,
        passwordChangedAtMs: now
      }
      if (!await repository.addUser(record)) throw new AccountExistsError(`a user named ${name} exists`)
      log.info({ user: name, role: input.role }, 'user added')
      return { user: userView(record), password }
    },

    async listUsers () {
      return (await repository.users()).map(userView)
    },

    async getUser (nameOrId) {
      return userView(await find(nameOrId))
    },

    async removeUser (nameOrId) {
      const user = await find(nameOrId)
      await assertAdminStays(user)
      await repository.removeUser(user.id)
      forget(user.id)
      log.info({ user: user.name }, 'user removed')
      return userView(user)
    },

    async setPassword (nameOrId, password) {
      const user = await find(nameOrId)
      const chosen = password == null ? generatePassword() : checkPassword(password)
      await repository.updateUser({ ...user, passwordHash: await hashPassword(chosen, cost), passwordChangedAtMs: clock.now() })
      await repository.removeSessions(user.id)
      forget(user.id)
      log.info({ user: user.name }, 'password changed; sessions ended')
      return chosen
    },

    async updateUser (nameOrId, change) {
      const user = await find(nameOrId)
      if (change.role != null && !ROLES.includes(change.role)) throw new InvalidRequestError(`role must be one of ${ROLES.join(', ')}`)
      if (change.role === 'viewer') await assertAdminStays(user)
      const role = change.role ?? user.role
      // an admin sees every folder: a limit kept from their time as a viewer would only mislead whoever reads it
      const folders = change.folders === undefined ? (role === 'admin' ? null : user.folders) : foldersFor(role, checkFolders(change.folders))
      const updated: UserRecord = { ...user, role, folders }
      await repository.updateUser(updated)
      forget(user.id)
      return userView(updated)
    },

    async login (name, password) {
      const folded = typeof name === 'string' ? name.trim().toLowerCase() : ''
      const user = NAME.test(folded) ? await repository.userByName(folded) : undefined
      if (typeof password !== 'string' || password.length > MAX_PASSWORD) throw new InvalidCredentialsError('wrong user name or password')
      if (user == null) {
        decoy ??= hashPassword(generatePassword(), cost)
        await verifyPassword(password, await decoy, cost)
        throw new InvalidCredentialsError('wrong user name or password')
      }
      const { ok, rehash } = await verifyPassword(password, user.passwordHash, cost)
      if (!ok) throw new InvalidCredentialsError('wrong user name or password')
      if (rehash) await repository.updateUser({ ...user, passwordHash: await hashPassword(password, cost) })
      const issued = await issue(user, 'session', null)
      return { token: issued.token, user: userView(user), expiresAt: issued.view.expiresAt ?? '' }
    },

    async logout (token) {
      if (typeof token !== 'string' || !TOKEN.test(token)) return
      const found = await repository.tokenByHash(tokenHash(token))
      cache.delete(tokenHash(token))
      if (found != null) await repository.removeToken(found.token.id)
    },

    async authenticate (token) {
      if (typeof token !== 'string' || !TOKEN.test(token)) return undefined
      const hash = tokenHash(token)
      const now = clock.now()
      let entry = cache.get(hash)
      if (entry == null || now - entry.readAtMs > CACHE_MS) {
        const found = await repository.tokenByHash(hash)
        if (found == null) {
          cache.delete(hash)
          return undefined
        }
        entry = { auth: { user: userView(found.user), tokenId: found.token.id, kind: found.token.kind }, token: found.token, readAtMs: now }
        if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string)
        cache.set(hash, entry)
      }
      const { token: record } = entry
      if (record.expiresAtMs != null && record.expiresAtMs <= now) {
        cache.delete(hash)
        return undefined
      }
      if (record.lastUsedAtMs == null || now - record.lastUsedAtMs >= TOUCH_EVERY_MS) {
        record.lastUsedAtMs = now
        if (record.kind === 'session') record.expiresAtMs = now + sessionTtlMs
        // recording a use is bookkeeping, not awaited: a full disk or a locked catalog must neither fail nor hold up a read
        repository.touchToken(record.id, now, record.expiresAtMs).catch(err => { log.debug({ err: (err as Error).name }, 'a token\'s last use was not recorded') })
      }
      return entry.auth
    },

    async addApiToken (nameOrId, tokenName) {
      const user = await find(nameOrId)
      const issued = await issue(user, 'api', checkTokenName(tokenName))
      log.info({ user: user.name, tokenName: issued.view.name, tokenId: issued.view.id }, 'API token added')
      return issued
    },

    async listTokens (nameOrId) {
      const userId = nameOrId == null ? undefined : (await find(nameOrId)).id
      return (await repository.tokens(userId)).map(tokenView)
    },

    async removeToken (id, ownerId) {
      const tokens = await repository.tokens(ownerId)
      const token = tokens.find(t => t.id === id)
      if (token == null) throw new AccountNotFoundError(`no token ${JSON.stringify(String(id).slice(0, 32))}`)
      await repository.removeToken(token.id)
      for (const [hash, entry] of cache) if (entry.auth.tokenId === token.id) cache.delete(hash)
      log.info({ tokenId: token.id }, 'token removed')
    },

    async sweep () {
      return await repository.removeExpired(clock.now())
    }
  }
  return accounts
}

function checkFolders (folders: unknown): string[] | null {
  if (folders == null) return null
  if (!Array.isArray(folders) || folders.length > 100 || !folders.every(f => typeof f === 'string' && f.startsWith('/') && f.length <= 4096 && !f.includes('\0'))) {
    throw new InvalidRequestError('folders is null (every folder) or a list of absolute paths')
  }
  // as the library records paths (resolved): `/srv//films/` and `/srv/x/../films` are `/srv/films`
  return [...new Set(folders.map(f => { const n = posix.normalize(f); return n.length > 1 ? n.replace(/\/+$/, '') : n }))]
}

/** Folders are a viewer's limit: an admin sees every folder, so a list for one is refused rather than kept without effect. */
function foldersFor (role: Role, folders: string[] | null): string[] | null {
  if (role === 'admin' && folders != null) throw new InvalidRequestError('admins see every folder: library folders limit viewers only')
  return folders
}

function userView (user: UserRecord): User {
  return { id: user.id, name: user.name, role: user.role, folders: user.folders, createdAt: new Date(user.createdAtMs).toISOString() }
}

function tokenView (token: TokenRecord): TokenView {
  const iso = (ms: number | null): string | null => ms == null ? null : new Date(ms).toISOString()
  return { id: token.id, userId: token.userId, kind: token.kind, name: token.name, createdAt: iso(token.createdAtMs) ?? '', lastUsedAt: iso(token.lastUsedAtMs), expiresAt: iso(token.expiresAtMs) }
}
