import Router from '@koa/router'
import { SegmentNotFoundError } from '../../core/errors.ts'
import { INIT_NAME, MASTER_NAME, PLAYLIST_NAME, segmentIndex } from '../../core/hls/index.ts'
import { PLAYLIST_CACHE, PLAYLIST_TYPE, SEGMENT_CACHE } from '../media-http.ts'
import { sendFile } from '../send-file.ts'
import type { ContentReader } from '../../core/ipfs/index.ts'
import type { Library, Transcoder } from '../../core/media/index.ts'
import type { Metrics } from '../../core/metrics.ts'
import type { Context } from 'koa'

export interface MediaRouteComponents {
  library: Library
  transcoder: Transcoder
  reader: ContentReader
  metrics: Metrics
}

/** `/media/{id}/...`: master and media playlists, init and media segments, made on demand. */
export function mediaRoutes ({ library, transcoder, reader, metrics }: MediaRouteComponents): Router {
  const router = new Router({ prefix: '/media/:id' })

  function abortOnClose (ctx: Context): AbortSignal {
    const controller = new AbortController()
    ctx.req.once('close', () => { if (!ctx.res.writableEnded) controller.abort(new Error('client went away')) })
    return controller.signal
  }

  router.get(`/${MASTER_NAME}`, async ctx => {
    ctx.body = await library.master(ctx.params.id)
    ctx.type = PLAYLIST_TYPE
    ctx.set('Cache-Control', PLAYLIST_CACHE)
  })

  router.get(`/:profile/${PLAYLIST_NAME}`, async ctx => {
    ctx.body = await library.playlist(ctx.params.id, ctx.params.profile)
    ctx.type = PLAYLIST_TYPE
    ctx.set('Cache-Control', PLAYLIST_CACHE)
  })

  router.get(`/:profile/${INIT_NAME}`, async ctx => {
    const job = await library.job(ctx.params.id, ctx.params.profile)
    const init = await transcoder.init(job, { signal: abortOnClose(ctx) })
    await sendFile(ctx, reader, init.cid, INIT_NAME, { cacheControl: SEGMENT_CACHE })
  })

  router.get('/:profile/:file', async ctx => {
    const index = segmentIndex(ctx.params.file)
    if (index == null) throw new SegmentNotFoundError(`no segment ${JSON.stringify(ctx.params.file.slice(0, 64))}`)
    const job = await library.job(ctx.params.id, ctx.params.profile)
    if (index >= job.grid.starts.length) throw new SegmentNotFoundError(`segment ${index} is past the end (${job.grid.starts.length} segments)`)
    const segment = await transcoder.segment(job, index, { signal: abortOnClose(ctx) })
    await sendFile(ctx, reader, segment.cid, ctx.params.file, { cacheControl: SEGMENT_CACHE })
    metrics.segmentsServed.inc({ source: 'local' })
    if (segment.bytes > 0) metrics.segmentBytesServed.inc(segment.bytes)
  })

  return router
}
