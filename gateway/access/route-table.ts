import type { Context } from 'koa'

/*
 * Who may call what: every route of the main server's app and of a CDN node's app, by `METHOD PATH` as the
 * router registered it (GET covers HEAD). The authorization middleware (authorize.ts) reads only this table; a
 * route missing from it is refused, and test/gateway/route-census.test.ts fails on any route the apps register
 * that is not here (and on any entry no app registers).
 *
 * Owners:
 * - public: anyone (health, login, Delegated Routing V1, whose records are self-authenticating, the player's code)
 * - viewer: any signed-in user; admin: an admin
 * - stream: media bytes. On the main server a signed-in user; a signed stream token (`?token=`) is checked by the
 *   stream access middleware on the media routes themselves (and media may be public by setting). On a node, only
 *   stream tokens (or a node's credential).
 * - metrics: an admin, or a caller on the server's own machine (Prometheus scraping over loopback)
 * - loopback: the machine the daemon runs on (a node's own pin list and verification)
 * - origin: a node's API proxy: the main server decides, with the caller's own credential
 */

export type Owner = 'public' | 'viewer' | 'admin' | 'stream' | 'metrics' | 'loopback' | 'origin'

/** What a route needs: an owner, or a choice made from the request (still in this one table). */
export type Rule = Owner | ((ctx: Context, settings: AccessSettings) => Owner)

/** Settings that move a route between owners. */
export interface AccessSettings {
  /** Viewers may order replication ("Replicate here"). */
  viewerReplication: boolean
}

/** Who may order replication ("Replicate here"): the table's rule, which `/api/v1/auth/me` reads too (its `canReplicate`). */
export function replicationOrderOwner (settings: AccessSettings): Owner {
  return settings.viewerReplication ? 'viewer' : 'admin'
}

const allNodes = (ctx: Context): Owner => ctx.query.all === '1' || ctx.query.all === 'true' ? 'admin' : 'viewer'

/** The main server's routes. */
export const SERVER_ROUTES: Readonly<Record<string, Rule>> = {
  'GET /healthz': 'public',
  'GET /metrics': 'metrics',
  'GET /vendor/hls.min.js': 'public',
  // accounts
  'POST /api/v1/auth/login': 'public',
  'POST /api/v1/auth/logout': 'public',
  'GET /api/v1/auth/me': 'viewer',
  'PUT /api/v1/auth/password': 'viewer',
  'GET /api/v1/users': 'admin',
  'POST /api/v1/users': 'admin',
  'GET /api/v1/users/:name': 'admin',
  'PATCH /api/v1/users/:name': 'admin',
  'DELETE /api/v1/users/:name': 'admin',
  'PUT /api/v1/users/:name/password': 'admin',
  // a viewer's own tokens; `?all=1` (everyone's) is for admins
  'GET /api/v1/tokens': allNodes,
  'POST /api/v1/tokens': 'viewer',
  'DELETE /api/v1/tokens/:id': 'viewer',
  // the library
  'GET /api/v1/media': 'viewer',
  'POST /api/v1/media': 'admin',
  'GET /api/v1/media/:id': 'viewer',
  'GET /api/v1/media/:id/progress': 'viewer',
  'PUT /api/v1/media/:id/progress': 'viewer',
  'GET /api/v1/progress': 'viewer',
  // metadata: reading is for viewers; edits, their history, provider searches and identification for admins
  'GET /api/v1/metadata/providers': 'viewer',
  'GET /api/v1/media/:id/metadata': 'viewer',
  'PATCH /api/v1/media/:id/metadata': 'admin',
  'GET /api/v1/media/:id/metadata/history': 'admin',
  'POST /api/v1/media/:id/metadata/history/:entry/revert': 'admin',
  'GET /api/v1/media/:id/matches': 'admin',
  'POST /api/v1/media/:id/identify': 'admin',
  'GET /api/v1/media/:id/next': 'viewer',
  'GET /api/v1/media/:id/extras': 'viewer',
  'GET /api/v1/series': 'viewer',
  'GET /api/v1/images/:cid': 'viewer',
  'GET /api/v1/series/:id': 'viewer',
  'GET /api/v1/series/:id/seasons': 'viewer',
  'GET /api/v1/series/:id/seasons/:number': 'viewer',
  'GET /api/v1/series/:id/episodes': 'viewer',
  'GET /api/v1/collections': 'viewer',
  'GET /api/v1/collections/:id': 'viewer',
  'GET /api/v1/search': 'viewer',
  // nodes: the picker lists shared nodes and the caller's own local ones; every node with addresses and pins
  // (`?all=1`) and revocation are for admins
  'GET /api/v1/nodes': allNodes,
  'POST /api/v1/nodes/:name/revoke': 'admin',
  // node invitations (issue 14): made, listed and revoked by admins; spent by a joining node with the invitation's
  // secret, which is its credential (slowed down after wrong ones, as logins are)
  'POST /api/v1/nodes/invitations': 'admin',
  'GET /api/v1/nodes/invitations': 'admin',
  'DELETE /api/v1/nodes/invitations/:id': 'admin',
  'POST /api/v1/nodes/join': 'public',
  // how a node reaches the main server's peer, given only its URL (the private network's key still guards the peer)
  'GET /api/v1/server': 'public',
  // re-hashing every pinned block is work for the server's own machine (`cidcast pin verify --node <server URL>`)
  'POST /pins/verify': 'loopback',
  // replication: "Replicate here" is for admins unless the setting lets viewers order it
  'POST /api/v1/replications': (_ctx, settings) => replicationOrderOwner(settings),
  'GET /api/v1/replications': 'viewer',
  'DELETE /api/v1/replications': 'admin',
  'GET /api/v1/media/:id/locations': 'viewer',
  // automatic distribution's decisions name nodes and what their viewers watch
  'GET /api/v1/distribution': 'admin',
  // a signed play URL for the caller (the node's or this server's), and key rotation
  'GET /api/v1/media/:id/play': 'viewer',
  'POST /api/v1/keys/rotate': 'admin',
  // media bytes
  'GET /media/:id/master.m3u8': 'stream',
  'GET /media/:id/:profile/index.m3u8': 'stream',
  'GET /media/:id/:profile/init.mp4': 'stream',
  'GET /media/:id/:profile/:file': 'stream',
  'GET /^\\/ipfs\\/[^/]+(?:\\/.*)?$/': 'stream',
  // Delegated Routing V1: IPNS records are signed by their names' keys, providers and peers are public facts
  'GET /routing/v1/ipns/:name': 'public',
  'PUT /routing/v1/ipns/:name': 'public',
  'GET /routing/v1/providers/:cid': 'public',
  'GET /routing/v1/peers/:peerId': 'public',
  'OPTIONS /^\\/routing\\/v1\\/.*$/': 'public',
  'ALL /^\\/routing\\/v1(?:\\/.*)?$/': 'public'
}

/** A CDN node's routes. */
export const NODE_ROUTES: Readonly<Record<string, Rule>> = {
  'GET /healthz': 'public',
  'GET /metrics': 'loopback',
  'GET /vendor/hls.min.js': 'public',
  'GET /media/:id/master.m3u8': 'stream',
  'GET /media/:id/:profile/index.m3u8': 'stream',
  'GET /media/:id/:profile/:file': 'stream',
  'GET /^\\/ipfs\\/[^/]+(?:\\/.*)?$/': 'stream',
  'GET /pins': 'loopback',
  'POST /pins/verify': 'loopback',
  'GET /^\\/api\\/v1\\/[A-Za-z0-9_\\-/]+$/': 'origin',
  'PUT /^\\/api\\/v1\\/media\\/[0-9a-f]{16}\\/progress$/': 'origin',
  'POST /api/v1/replications': 'origin',
  'POST /api/v1/auth/login': 'origin',
  'POST /api/v1/auth/logout': 'origin'
}

/**
 * Routes of the main server that only the leader answers when several share one catalog (issue 15): they read or
 * change the node registry's and the content index's state, which the leader alone keeps. Another server passes
 * them on to the leader (gateway/middleware/leader-forward.ts); each is a key of SERVER_ROUTES (a test checks).
 */
export const LEADER_ROUTES: ReadonlySet<string> = new Set([
  'POST /api/v1/nodes/:name/revoke',
  'POST /api/v1/replications',
  'GET /api/v1/replications',
  'DELETE /api/v1/replications',
  'GET /api/v1/media/:id/locations',
  'GET /api/v1/distribution',
  'GET /routing/v1/providers/:cid'
])
