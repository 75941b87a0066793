import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { checkNodeName } from '../control/index.ts'
import { InvalidRequestError } from '../errors.ts'
import { AccountNotFoundError, InvitationExpiredError, InvitationNotFoundError, InvitationRevokedError, InvitationSpentError } from './errors.ts'
import { encodeJoinToken } from './join-token.ts'
import type { InvitationRecord, InvitationRepository } from '../catalog/index.ts'
import type { Logger } from '../logger.ts'

/*
 * Node invitations (issue 14, item 2): an admin invites a node (`cidcast nodes invite`, the Nodes page) and hands its
 * join token to whoever runs it; `cidcast-node join TOKEN` spends the invitation and takes the name, mode and owner
 * the admin chose. One invitation, one node: the first node that shows the secret spends it (the same node may show
 * it again, so a join that stopped half-way can be run again); expired, spent and revoked invitations are refused
 * saying which. Only the secret's SHA-256 is kept; the token is shown once and never logged.
 */

/** How long an invitation lasts unless told: a day. */
export const DEFAULT_INVITATION_SECONDS = 24 * 3600
/** The longest an invitation may last. */
export const MAX_INVITATION_SECONDS = 30 * 24 * 3600

export type InvitationState = 'open' | 'spent' | 'expired' | 'revoked'

/** An invitation as listings show it: never its secret. */
export interface InvitationView {
  id: string
  name: string | null
  mode: 'shared' | 'local'
  owner: string | null
  state: InvitationState
  createdAt: string
  expiresAt: string
  spentAt: string | null
  /** The peer ID of the node that joined with it. */
  spentBy: string | null
}

export interface InviteRequest {
  /** The main server's HTTP URL as the joining node will reach it. */
  url: string
  name?: string | null
  mode?: 'shared' | 'local'
  /** A user name: the joining node's owner. */
  owner?: string | null
  expiresInSeconds?: number
  /** The admin's user id. */
  createdBy?: string | null
}

/** What a node that spent an invitation takes. */
export interface JoinGrant {
  name: string | null
  mode: 'shared' | 'local'
  owner: string | null
}

/** What goes into a join token besides the invitation and the URL: the main server's p2p addresses and the network's key. */
export interface JoinInfo {
  addresses: string[]
  /** The swarm key's 32 bytes. */
  swarmKey: Uint8Array
}

export interface InvitationComponents {
  logger: Logger
  repository: InvitationRepository
  /** Whether a user of this name exists (an owner must). */
  userExists: (name: string) => Promise<boolean>
  /** Read when a token is made: addresses are known only once everything listens. */
  joinInfo: () => JoinInfo
  clock?: { now: () => number }
}

export interface Invitations {
  /** A new invitation, and its join token (shown once). */
  invite (request: InviteRequest): Promise<{ token: string, invitation: InvitationView }>
  /** Every invitation, newest first. */
  list (): Promise<InvitationView[]>
  /** Revokes an open invitation; a spent one stays spent. */
  revoke (id: string): Promise<InvitationView>
  /** Spends the invitation for the node `peerId`; throws saying why it cannot. */
  spend (id: string, secret: string, peerId: string): Promise<JoinGrant>
}

/** Creates the invitations of a main server. */
export function createInvitations (components: InvitationComponents): Invitations {
  const log = components.logger.child({ name: 'cidcast:invitations' })
  const now = (): number => components.clock?.now() ?? Date.now()
  return {
    async invite (request) {
      const name = request.name == null || request.name.trim() === '' ? null : checkNodeName(request.name.trim())
      const mode = request.mode ?? 'shared'
      if (mode !== 'shared' && mode !== 'local') throw new InvalidRequestError('mode must be shared or local')
      const owner = request.owner == null || request.owner.trim() === '' ? null : request.owner.trim()
      if (owner != null && !await components.userExists(owner)) throw new AccountNotFoundError(`no user is named "${owner.slice(0, 64)}"`)
      if (mode === 'local' && owner == null) throw new InvalidRequestError('a local node serves its owner alone: name the owner')
      let url: URL
      try {
        url = new URL(request.url)
      } catch {
        throw new InvalidRequestError('url must be the main server\'s HTTP URL')
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidRequestError('url must be the main server\'s HTTP URL')
      const seconds = request.expiresInSeconds ?? DEFAULT_INVITATION_SECONDS
      if (!Number.isInteger(seconds) || seconds < 60 || seconds > MAX_INVITATION_SECONDS) {
        throw new InvalidRequestError(`an invitation lasts from 60 seconds to ${MAX_INVITATION_SECONDS / 86400} days`)
      }
      const secret = randomBytes(32).toString('base64url')
      const at = now()
      const record: InvitationRecord = { id: randomBytes(8).toString('hex'), secretHash: hash(secret), name, mode, owner, createdBy: request.createdBy ?? null, createdAtMs: at, expiresAtMs: at + seconds * 1000, spentAtMs: null, spentBy: null, revokedAtMs: null }
      await components.repository.add(record)
      const info = components.joinInfo()
      const token = encodeJoinToken({ url: url.origin + url.pathname.replace(/\/+$/, ''), addresses: info.addresses, swarmKey: Buffer.from(info.swarmKey).toString('hex'), id: record.id, secret })
      log.info({ invitation: record.id, name, mode, expiresAt: new Date(record.expiresAtMs).toISOString() }, 'node invited')
      return { token, invitation: view(record, at) }
    },
    async list () {
      const at = now()
      return (await components.repository.all()).map(record => view(record, at))
    },
    async revoke (id) {
      const at = now()
      const record = await components.repository.update(id, record => {
        if (record == null) throw new InvitationNotFoundError(`no invitation has the id "${String(id).slice(0, 32)}"`)
        return record.spentAtMs != null || record.revokedAtMs != null ? record : { ...record, revokedAtMs: at }
      })
      log.info({ invitation: id }, 'invitation revoked')
      return view(record, at)
    },
    async spend (id, secret, peerId) {
      const at = now()
      const record = await components.repository.update(id, record => {
        // a wrong secret reads as no invitation: the id alone tells nobody anything
        if (record == null || typeof secret !== 'string' || !sameHash(record.secretHash, hash(secret))) throw new InvitationNotFoundError('no invitation matches this join token: it may be from another main server')
        if (record.revokedAtMs != null) throw new InvitationRevokedError(`this invitation was revoked on ${new Date(record.revokedAtMs).toISOString()}: ask for a new one`)
        if (record.spentBy != null) {
          if (record.spentBy === peerId) return record
          throw new InvitationSpentError(`this invitation was used by another node on ${new Date(record.spentAtMs ?? 0).toISOString()}: ask for a new one`)
        }
        if (at >= record.expiresAtMs) throw new InvitationExpiredError(`this invitation expired on ${new Date(record.expiresAtMs).toISOString()}: ask for a new one`)
        return { ...record, spentAtMs: at, spentBy: peerId }
      })
      log.info({ invitation: id, peerId }, 'invitation spent: a node joined')
      return { name: record.name, mode: record.mode, owner: record.owner }
    }
  }
}

function hash (secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

function sameHash (a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b))
}

function view (record: InvitationRecord, at: number): InvitationView {
  const state: InvitationState = record.spentBy != null ? 'spent' : record.revokedAtMs != null ? 'revoked' : at >= record.expiresAtMs ? 'expired' : 'open'
  const iso = (ms: number | null): string | null => ms == null ? null : new Date(ms).toISOString()
  return { id: record.id, name: record.name, mode: record.mode, owner: record.owner, state, createdAt: new Date(record.createdAtMs).toISOString(), expiresAt: new Date(record.expiresAtMs).toISOString(), spentAt: iso(record.spentAtMs), spentBy: record.spentBy }
}
