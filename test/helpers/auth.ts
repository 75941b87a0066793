import type { RunningServer } from '../../node/server.ts'
import type { AccountsInit } from '../../core/access/index.ts'

/*
 * Credentials for tests: the main server's API needs an account. Tests make an API token of the server's first
 * admin (or a viewer's) through the running server, and the `cidcast()` helper (spawn.ts) carries the admin
 * token of a server it is pointed at with `--server`, as `CIDCAST_TOKEN`.
 */

/** scrypt at the lowest cost the hashes accept: tests are about accounts, not the KDF's price. */
export const TEST_ACCOUNTS: AccountsInit = { scryptCost: { ln: 10, r: 8, p: 1 } }

const admins = new Map<string, string>()

/** Remembers the admin token of a server URL, for `cidcast()` runs pointed at it. */
export function rememberToken (url: string, token: string): void {
  admins.set(new URL(url).origin, token)
}

/** The admin token remembered for a server URL. */
export function rememberedToken (url: string): string | undefined {
  try {
    return admins.get(new URL(url).origin)
  } catch {
    return undefined
  }
}

/** An API token of the server's first admin (made once per server and remembered for `cidcast()`). */
export async function adminToken (server: Pick<RunningServer, 'url' | 'accounts'>): Promise<string> {
  const known = rememberedToken(server.url)
  if (known != null) return known
  const issued = await server.accounts.addApiToken('admin', `tests ${Math.random().toString(36).slice(2)}`)
  rememberToken(server.url, issued.token)
  return issued.token
}

/** A viewer's API token (the viewer is made on first use). */
export async function viewerToken (server: Pick<RunningServer, 'accounts'>, name = 'viewer'): Promise<string> {
  const user = await server.accounts.getUser(name).catch(async () => (await server.accounts.addUser({ name, role: 'viewer', password: 'viewer-password' })).user)
  return (await server.accounts.addApiToken(user.id, `tests ${Math.random().toString(36).slice(2)}`)).token
}

/** The Authorization header of a token. */
export function bearer (token: string): { Authorization: string } {
  return { Authorization: `Bearer ${token}` }
}

/** `fetch` with the server's admin token added. */
export async function adminFetch (server: Pick<RunningServer, 'url' | 'accounts'>, pathOrUrl: string, init: RequestInit = {}): Promise<Response> {
  const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${server.url}${pathOrUrl}`
  const headers = new Headers(init.headers)
  if (!headers.has('Authorization')) headers.set('Authorization', `Bearer ${await adminToken(server)}`)
  return await fetch(url, { ...init, headers })
}

/** Logs in over HTTP as a person would (`POST /api/v1/auth/login`); the session token, which is also the web UI's cookie. */
export async function login (url: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }) })
  if (res.status !== 200) throw new Error(`logging in as ${username} answered ${res.status}: ${await res.text()}`)
  return (await res.json() as { token: string }).token
}
