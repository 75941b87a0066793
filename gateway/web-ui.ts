import { createReadStream } from 'node:fs'
import Router from '@koa/router'
import serve from 'koa-static'
import type Koa from 'koa'

/** The web UI's files, handed to the gateway by the process that assembles it (node/web-ui.ts). */
export interface WebUi {
  /** The folder of static files served at `/` (the client's `public/`). */
  dir: string
  /** hls.js's minified build, served at `/vendor/hls.min.js`. */
  hlsJs: string
}

/** Serves the UI after every other route: `/vendor/hls.min.js` and the static files with `index.html` at `/`. */
export function serveWebUi (app: Koa, ui: WebUi): void {
  const vendor = new Router()
    .get('/vendor/hls.min.js', ctx => {
      ctx.type = 'text/javascript; charset=utf-8'
      ctx.set('Cache-Control', 'public, max-age=86400')
      ctx.body = createReadStream(ui.hlsJs)
    })
  app.use(vendor.routes())
  app.use(vendor.allowedMethods())
  // the UI's files change with the code: no max-age, revalidated by their Etag
  app.use(serve(ui.dir, { index: 'index.html', maxage: 0 }))
}
