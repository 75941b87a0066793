import type { Role } from '../../core/access/index.ts'
import type { Context } from 'koa'

/** How a user proved who they are. */
export type CredentialKind = 'session' | 'api-token' | 'operator'

/** A signed-in user of the main server. */
export interface UserCaller {
  kind: 'user'
  userId: string
  name: string
  role: Role
  /** The library folders the user may see (null: all); read with the credential, so an admin's change applies at once. */
  folders: readonly string[] | null
  via: CredentialKind
}

/** A CDN node, for its own requests (with the credential the main server gave it). */
export interface NodeCaller {
  kind: 'node'
  peerId: string
}

/** Who a request speaks for: decided once, by the authentication middleware, before any route runs. */
export type Caller = { kind: 'anonymous' } | UserCaller | NodeCaller

const ANONYMOUS: Caller = Object.freeze({ kind: 'anonymous' })

/** The caller of a request (`ctx.state.caller`), anonymous when no credential was given or checked. */
export function callerOf (ctx: Context): Caller {
  const caller = (ctx.state as { caller?: Caller }).caller
  return caller ?? ANONYMOUS
}

/** The signed-in user of a request, or undefined. */
export function userOf (ctx: Context): UserCaller | undefined {
  const caller = callerOf(ctx)
  return caller.kind === 'user' ? caller : undefined
}
