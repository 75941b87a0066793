import { LessThan } from 'typeorm'
import { AccessTokenRow, UserRow } from './access-entities.ts'
import { PlaybackProgress } from './entities.ts'
import { parseJson } from './exclusive.ts'
import type { RunExclusive, RunRead } from './exclusive.ts'
import type { Role, TokenKind } from '../access/index.ts'

/** A user as core/access keeps it (times in epoch milliseconds). */
export interface UserRecord {
  id: string
  name: string
  role: Role
  passwordHash: string
  /** Library folders the user may see; null: every folder. */
  folders: string[] | null
  createdAtMs: number
  passwordChangedAtMs: number
}

/** A bearer credential as kept: only the SHA-256 of its text. */
export interface TokenRecord {
  id: string
  userId: string
  kind: TokenKind
  name: string | null
  hash: string
  createdAtMs: number
  lastUsedAtMs: number | null
  expiresAtMs: number | null
}

/** Users and their tokens in the catalog's database (tables `users`, `access_tokens`). */
export interface AccessRepository {
  /** Every user, by name. */
  users (): Promise<UserRecord[]>
  userById (id: string): Promise<UserRecord | undefined>
  userByName (name: string): Promise<UserRecord | undefined>
  /** Inserts a user; false when the name is taken (nothing written). */
  addUser (record: UserRecord): Promise<boolean>
  /** Replaces role, password hash and folders of `record.id`. */
  updateUser (record: UserRecord): Promise<void>
  /** Removes a user with their tokens (the foreign key cascades). */
  removeUser (id: string): Promise<void>
  /** The token whose text hashes to `hash`, with its user. */
  tokenByHash (hash: string): Promise<{ token: TokenRecord, user: UserRecord } | undefined>
  /** A user's tokens, or everyone's. */
  tokens (userId?: string): Promise<TokenRecord[]>
  /** Inserts a token; false when the user already has an API token of that name. */
  addToken (record: TokenRecord): Promise<boolean>
  removeToken (id: string): Promise<void>
  /** Removes every session of a user (a password change logs them out everywhere). */
  removeSessions (userId: string): Promise<void>
  /** Records a use: last-used time and, for sessions, the new expiry. */
  touchToken (id: string, lastUsedAtMs: number, expiresAtMs: number | null): Promise<void>
  /** Drops tokens that expired before `nowMs`; returns how many. */
  removeExpired (nowMs: number): Promise<number>
  /** Gives the progress rows of `fromUserId` to `toUserId` (rows from before accounts belong to the first admin). */
  moveProgress (fromUserId: string, toUserId: string): Promise<number>
}

/** The access repository: writes on the catalog's write queue, reads (every request's token look-up) beside it. */
export function createAccessRepository (exclusive: RunExclusive, read: RunRead): AccessRepository {
  return {
    async users () {
      return (await read(async db => db.getRepository(UserRow).find({ order: { name: 'ASC' } }))).map(toUser)
    },
    async userById (id) {
      const row = await read(async db => db.getRepository(UserRow).findOneBy({ id }))
      return row == null ? undefined : toUser(row)
    },
    async userByName (name) {
      const row = await read(async db => db.getRepository(UserRow).findOneBy({ name }))
      return row == null ? undefined : toUser(row)
    },
    async addUser (record) {
      return await exclusive(async db => {
        const users = db.getRepository(UserRow)
        if (await users.existsBy({ name: record.name })) return false
        await users.insert(toUserRow(record))
        return true
      })
    },
    async updateUser (record) {
      const { role, passwordHash, folders, passwordChangedAt } = toUserRow(record)
      await exclusive(async db => { await db.getRepository(UserRow).update({ id: record.id }, { role, passwordHash, folders, passwordChangedAt }) })
    },
    async removeUser (id) {
      await exclusive(async db => { await db.getRepository(UserRow).delete({ id }) })
    },
    async tokenByHash (hash) {
      return await read(async db => {
        const token = await db.getRepository(AccessTokenRow).findOneBy({ hash })
        if (token == null) return undefined
        const user = await db.getRepository(UserRow).findOneBy({ id: token.userId })
        return user == null ? undefined : { token: toToken(token), user: toUser(user) }
      })
    },
    async tokens (userId) {
      const rows = await read(async db => db.getRepository(AccessTokenRow).find({ where: userId == null ? {} : { userId }, order: { createdAt: 'ASC', id: 'ASC' } }))
      return rows.map(toToken)
    },
    async addToken (record) {
      return await exclusive(async db => {
        const tokens = db.getRepository(AccessTokenRow)
        if (record.name != null && await tokens.existsBy({ userId: record.userId, kind: record.kind, name: record.name })) return false
        await tokens.insert(Object.assign(new AccessTokenRow(), {
          id: record.id,
          userId: record.userId,
          kind: record.kind,
          name: record.name,
          hash: record.hash,
          createdAt: record.createdAtMs,
          lastUsedAt: record.lastUsedAtMs,
          expiresAt: record.expiresAtMs
        }))
        return true
      })
    },
    async removeToken (id) {
      await exclusive(async db => { await db.getRepository(AccessTokenRow).delete({ id }) })
    },
    async removeSessions (userId) {
      await exclusive(async db => { await db.getRepository(AccessTokenRow).delete({ userId, kind: 'session' }) })
    },
    async touchToken (id, lastUsedAtMs, expiresAtMs) {
      await exclusive(async db => { await db.getRepository(AccessTokenRow).update({ id }, { lastUsedAt: lastUsedAtMs, expiresAt: expiresAtMs }) })
    },
    async removeExpired (nowMs) {
      const result = await exclusive(async db => db.getRepository(AccessTokenRow).delete({ expiresAt: LessThan(nowMs) }))
      return result.affected ?? 0
    },
    async moveProgress (fromUserId, toUserId) {
      const result = await exclusive(async db => db.getRepository(PlaybackProgress).update({ userId: fromUserId }, { userId: toUserId }))
      return result.affected ?? 0
    }
  }
}

function toUserRow (record: UserRecord): UserRow {
  return Object.assign(new UserRow(), {
    id: record.id,
    name: record.name,
    role: record.role,
    passwordHash: record.passwordHash,
    folders: record.folders == null ? null : JSON.stringify(record.folders),
    createdAt: record.createdAtMs,
    passwordChangedAt: record.passwordChangedAtMs
  })
}

function toUser (row: UserRow): UserRecord {
  return {
    id: row.id,
    name: row.name,
    // anything unexpected is the lesser role
    role: row.role === 'admin' ? 'admin' : 'viewer',
    passwordHash: row.passwordHash,
    folders: row.folders == null ? null : parseJson<string[]>(row.folders, []),
    createdAtMs: row.createdAt,
    passwordChangedAtMs: row.passwordChangedAt
  }
}

function toToken (row: AccessTokenRow): TokenRecord {
  return {
    id: row.id,
    userId: row.userId,
    kind: row.kind === 'api' ? 'api' : 'session',
    name: row.name,
    hash: row.hash,
    createdAtMs: row.createdAt,
    lastUsedAtMs: row.lastUsedAt,
    expiresAtMs: row.expiresAt
  }
}
