import { createReadStream } from 'node:fs'
import Router from '@koa/router'
import serve from 'koa-static'
import type { Middleware } from 'koa'

/** The web UI's files, handed to the gateway by the process that assembles it (node/web-ui.ts). */
export interface WebUi {
  /** The folder of static files served at `/` (the client's `public/`). */
  dir: string
  /** hls.js's minified build, served at `/vendor/hls.min.js`. */
  hlsJs: string
}

/** `/vendor/hls.min.js`: a route like the others, so the route table classifies it. */
export function webUiRoutes (ui: WebUi): Router {
  return new Router()
    .get('/vendor/hls.min.js', ctx => {
      ctx.type = 'text/javascript; charset=utf-8'
      ctx.set('Cache-Control', 'public, max-age=86400')
      ctx.body = createReadStream(ui.hlsJs)
    })
}

/** The static files with `index.html` at `/`, used after every route: the same for everyone (no data in them). */
export function webUiFiles (ui: WebUi): Middleware {
  // the UI's files change with the code: no max-age, revalidated by their Etag
  return serve(ui.dir, { index: 'index.html', maxage: 0 })
}
