import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import Router from '@koa/router'
import Koa from 'koa'
import { InvalidRequestError, SetupForbiddenError } from '../core/errors.ts'
import { freeBytes } from '../core/disk-space.ts'
import { fromLoopback } from '../gateway/access/loopback.ts'
import { errors } from '../gateway/middleware/errors.ts'
import { jsonBody, objectBody } from '../gateway/middleware/json-body.ts'
import { listenHttp } from './http-listener.ts'
import { joinNetwork } from './join.ts'
import { SETUP_PAGE } from './setup-page.ts'
import type { Joined } from './join.ts'
import type { Logger } from '../core/logger.ts'

/*
 * The node's setup page (issue 14, item 3): a node started with no data folder and no arguments serves
 * http://127.0.0.1:8081/setup, where its owner pastes the join token, picks the folder (the platform's default data
 * folder offered, its free space shown), a name, the mode and a quota; the node joins and the page closes, then the
 * node starts serving (on the same port by default). The page answers only on loopback and only until the node is
 * set up, and refuses what a web page elsewhere could send it: a Host other than this address (DNS rebinding) and a
 * POST from another origin (a site making the node join its own network).
 */

/** What the owner chose on the page. */
export interface SetupChoice extends Joined {
  /** The data folder (absolute). */
  data: string
  quotaBytes?: number
}

export interface SetupInit {
  /** `HOST:PORT`, a loopback host. @default 127.0.0.1:8081 */
  listen?: string
  /** The folder offered. */
  defaultFolder: string
}

export interface SetupServer {
  /** `http://127.0.0.1:PORT/setup` */
  url: string
  /** Resolves with the owner's choice once the node joined; the page is closed by then. */
  done: Promise<SetupChoice>
  close: () => Promise<void>
}

/** The platform's default data folder of a node: the XDG data dir on Linux, Application Support on macOS, %LOCALAPPDATA% on Windows. */
export function defaultNodeFolder (platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(home, 'AppData', 'Local'), 'cidcast-node')
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'cidcast-node')
  const xdg = env.XDG_DATA_HOME
  return join(xdg != null && isAbsolute(xdg) ? xdg : join(home, '.local', 'share'), 'cidcast-node')
}

/** Serves the setup page until the node has joined. */
export async function startSetup (log: Logger, init: SetupInit): Promise<SetupServer> {
  const app = new Koa()
  const router = new Router()
  let origin = ''
  let finished: (choice: SetupChoice) => void = () => {}
  const done = new Promise<SetupChoice>(resolve => { finished = resolve })
  let joining = false

  app.use(errors(log))
  app.use(async (ctx, next) => {
    if (origin === '' || !fromLoopback(ctx)) throw new SetupForbiddenError('the setup page answers only on this machine')
    if (ctx.get('Host') !== new URL(origin).host && ctx.get('Host') !== `localhost:${new URL(origin).port}`) throw new SetupForbiddenError('the setup page answers only at its own address')
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD' && ![origin, origin.replace('127.0.0.1', 'localhost')].includes(ctx.get('Origin'))) {
      throw new SetupForbiddenError('the setup page takes answers only from itself')
    }
    ctx.set('Cache-Control', 'no-store')
    ctx.set('X-Frame-Options', 'DENY')
    ctx.set('Content-Security-Policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'")
    await next()
  })
  app.use(jsonBody({ limit: '16kb', paths: /^\/setup$/ }))
  router.get('/', ctx => { ctx.redirect('/setup') })
  router.get('/setup', ctx => {
    ctx.type = 'html'
    ctx.body = SETUP_PAGE
  })
  router.get('/setup/folder', async ctx => {
    const folder = folderOf(typeof ctx.query.path === 'string' && ctx.query.path !== '' ? ctx.query.path : init.defaultFolder)
    ctx.body = { folder, defaultFolder: init.defaultFolder, freeBytes: await freeBytesNear(folder) }
  })
  router.post('/setup', async ctx => {
    const { token, folder, name, mode, quotaBytes } = objectBody(ctx)
    if (typeof token !== 'string' || token.trim() === '') throw new InvalidRequestError('paste the join token from your main server\'s admin')
    if (name != null && typeof name !== 'string') throw new InvalidRequestError('name must be text')
    if (mode != null && mode !== 'shared' && mode !== 'local') throw new InvalidRequestError('mode must be shared or local')
    if (quotaBytes != null && (typeof quotaBytes !== 'number' || !Number.isSafeInteger(quotaBytes) || quotaBytes < 1024 ** 3)) throw new InvalidRequestError('the quota must be at least 1 GiB')
    if (joining) throw new InvalidRequestError('the node is joining already')
    joining = true
    try {
      const data = folderOf(typeof folder === 'string' && folder.trim() !== '' ? folder : init.defaultFolder)
      const joined = await joinNetwork(token, data, log).catch(err => {
        // the page's owner can act on it (a server down, a URL not reachable from here): say it, not a bare 502
        if (err?.name === 'ServerUnreachableError') throw new InvalidRequestError(`${String(err.message)}: is the main server running, and reachable from this machine?`)
        throw err
      })
      const choice: SetupChoice = {
        ...joined,
        data,
        name: typeof name === 'string' && name.trim() !== '' ? name.trim() : joined.name,
        mode: mode ?? joined.mode,
        ...(typeof quotaBytes === 'number' ? { quotaBytes } : {})
      }
      ctx.body = { joined: true, data, peerId: joined.peerId }
      // the answer goes out first; then the page closes and the node takes over
      ctx.res.once('finish', () => { setImmediate(() => { void close().then(() => { finished(choice) }) }) })
    } finally {
      joining = false
    }
  })
  app.use(router.routes())
  app.use(router.allowedMethods())

  const http = await listenHttp(app, { key: 'listen', address: init.listen ?? '127.0.0.1:8081' }, log)
  origin = `http://127.0.0.1:${http.address.port}`
  if (!['127.0.0.1', '::1'].includes(http.address.address)) {
    await http.close()
    throw new InvalidRequestError('the setup page listens on loopback only (127.0.0.1)')
  }
  let closed: Promise<void> | undefined
  const close = async (): Promise<void> => { closed ??= http.close(); await closed }
  return { url: `${origin}/setup`, done, close }
}

/** An absolute folder from what the owner typed (`~` is their home). */
function folderOf (text: string): string {
  const trimmed = text.trim()
  if (trimmed.length > 4096 || trimmed.includes('\0')) throw new InvalidRequestError('that is not a folder')
  return resolve(trimmed === '~' || trimmed.startsWith('~/') ? join(homedir(), trimmed.slice(1)) : trimmed)
}

/** Free bytes of the file system the folder is (or would be) on: its nearest existing ancestor's. */
async function freeBytesNear (folder: string): Promise<number | null> {
  let dir = folder
  for (;;) {
    try {
      return await freeBytes(dir)
    } catch {
      const up = resolve(dir, '..')
      if (up === dir) return null
      dir = up
    }
  }
}
