import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm'
import { bigintNumber } from './transformers.ts'

/*
 * Accounts (issue #11, core/access/accounts.ts): users with a role and a password hash, and the bearer tokens they
 * hold (login sessions and named API tokens). Same conventions as entities.ts: explicit portable column types,
 * snake_case names, integer milliseconds. Tokens are kept only as the SHA-256 of their text.
 */

/** A user of the main server. */
@Entity('users')
export class UserRow {
  /** 16 random hex digits; what stream tokens and playback progress name. */
  @PrimaryColumn('varchar', { length: 16, primaryKeyConstraintName: 'pk_users' })
  id!: string

  /** The login name, lower case; unique. */
  @Index('idx_users_name', { unique: true })
  @Column('varchar', { length: 64 })
  name!: string

  /** 'admin' | 'viewer' */
  @Column('varchar', { length: 8 })
  role!: string

  /** A PHC string: `$scrypt$ln=..,r=..,p=..$salt$hash`. */
  @Column('varchar', { name: 'password_hash', length: 255 })
  passwordHash!: string

  /** Library folders this user may see, as a JSON array of absolute paths; null: every folder. */
  @Column('text', { nullable: true })
  folders!: string | null

  @Column('bigint', { name: 'created_at', transformer: bigintNumber })
  createdAt!: number

  @Column('bigint', { name: 'password_changed_at', transformer: bigintNumber })
  passwordChangedAt!: number
}

/** A bearer credential of a user: a login session or a named API token. */
@Entity('access_tokens')
export class AccessTokenRow {
  /** 16 random hex digits: how listings and `token rm` name it (never the token itself). */
  @PrimaryColumn('varchar', { length: 16, primaryKeyConstraintName: 'pk_access_tokens' })
  id!: string

  @Index('idx_access_tokens_user')
  @Column('varchar', { name: 'user_id', length: 16 })
  userId!: string

  @ManyToOne(() => UserRow, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'fk_access_tokens_user' })
  user?: UserRow

  /** 'session' | 'api' */
  @Column('varchar', { length: 8 })
  kind!: string

  /** An API token's name (unique per user); null for sessions. */
  @Column('varchar', { length: 64, nullable: true })
  name!: string | null

  /** SHA-256 of the token's text, hex. */
  @Index('idx_access_tokens_hash', { unique: true })
  @Column('varchar', { length: 64 })
  hash!: string

  @Column('bigint', { name: 'created_at', transformer: bigintNumber })
  createdAt!: number

  @Column('bigint', { name: 'last_used_at', nullable: true, transformer: bigintNumber })
  lastUsedAt!: number | null

  /** Null: never (API tokens); sessions expire. */
  @Column('bigint', { name: 'expires_at', nullable: true, transformer: bigintNumber })
  expiresAt!: number | null
}

/**
 * An invitation for a CDN node to join (issue 14: `cidcast nodes invite`): spent once, by the first node that shows
 * its secret, which is kept only as its SHA-256.
 */
@Entity('node_invitations')
export class NodeInvitationRow {
  /** 16 random hex digits, inside the join token and in listings. */
  @PrimaryColumn('varchar', { length: 16, primaryKeyConstraintName: 'pk_node_invitations' })
  id!: string

  /** SHA-256 of the one-time secret, hex. */
  @Column('varchar', { name: 'secret_hash', length: 64 })
  secretHash!: string

  /** The name the joining node takes, or null: its host name. */
  @Column('varchar', { length: 300, nullable: true })
  name!: string | null

  /** 'shared' | 'local' */
  @Column('varchar', { length: 8 })
  mode!: string

  /** The user name of the node's owner, or null. */
  @Column('varchar', { length: 64, nullable: true })
  owner!: string | null

  /** The id of the admin who made it. */
  @Column('varchar', { name: 'created_by', length: 16, nullable: true })
  createdBy!: string | null

  @Column('bigint', { name: 'created_at', transformer: bigintNumber })
  createdAt!: number

  @Column('bigint', { name: 'expires_at', transformer: bigintNumber })
  expiresAt!: number

  @Column('bigint', { name: 'spent_at', nullable: true, transformer: bigintNumber })
  spentAt!: number | null

  /** The peer ID of the node that spent it. */
  @Column('varchar', { name: 'spent_by', length: 128, nullable: true })
  spentBy!: string | null

  @Column('bigint', { name: 'revoked_at', nullable: true, transformer: bigintNumber })
  revokedAt!: number | null
}

/** The entities of accounts, for the catalog's entity list. */
export const ACCESS_ENTITIES = [UserRow, AccessTokenRow, NodeInvitationRow]
