import Router from '@koa/router'
import { SegmentNotFoundError } from '../../core/errors.ts'
import { INIT_NAME, MASTER_NAME, PLAYLIST_NAME, segmentIndex } from '../../core/hls/index.ts'
import { PLAYLIST_CACHE, PLAYLIST_TYPE, SEGMENT_CACHE } from '../media-http.ts'
import { sendFile } from '../send-file.ts'
import type { ContentReader } from '../../core/ipfs/index.ts'
import type { Library, StoredSegment, Transcoder } from '../../core/media/index.ts'
import type { Metrics } from '../../core/metrics.ts'
import type { Context } from 'koa'
import type { CID } from 'multiformats/cid'

export interface MediaRouteComponents {
  library: Library
  transcoder: Transcoder
  reader: ContentReader
  metrics: Metrics
  /** Forgets a segment whose block is lost for good, so the transcoder makes it again (absent: a lost block is a 404). */
  segmentLost?: (cid: CID) => Promise<void>
}

/** `/media/{id}/...`: master and media playlists, init and media segments, made on demand. */
export function mediaRoutes ({ library, transcoder, reader, metrics, segmentLost }: MediaRouteComponents): Router {
  const router = new Router({ prefix: '/media/:id' })

  /**
   * Sends a stored segment. Its block may turn out lost (damaged on disk, and the reader found no node with a good
   * copy in time): then it is forgotten and made again, once, rather than answered 404 for ever.
   */
  async function sendSegment (ctx: Context, make: () => Promise<StoredSegment>, name: string): Promise<StoredSegment> {
    const segment = await make()
    try {
      await sendFile(ctx, reader, segment.cid, name, { cacheControl: SEGMENT_CACHE })
      return segment
    } catch (err) {
      if ((err as Error).name !== 'ContentNotFoundError' || segmentLost == null) throw err
      await segmentLost(segment.cid)
      const again = await make()
      await sendFile(ctx, reader, again.cid, name, { cacheControl: SEGMENT_CACHE })
      return again
    }
  }

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
    const signal = abortOnClose(ctx)
    await sendSegment(ctx, async () => await transcoder.init(job, { signal }), INIT_NAME)
  })

  router.get('/:profile/:file', async ctx => {
    const index = segmentIndex(ctx.params.file)
    if (index == null) throw new SegmentNotFoundError(`no segment ${JSON.stringify(ctx.params.file.slice(0, 64))}`)
    const job = await library.job(ctx.params.id, ctx.params.profile)
    if (index >= job.grid.starts.length) throw new SegmentNotFoundError(`segment ${index} is past the end (${job.grid.starts.length} segments)`)
    const signal = abortOnClose(ctx)
    const segment = await sendSegment(ctx, async () => await transcoder.segment(job, index, { signal }), ctx.params.file)
    metrics.segmentsServed.inc({ source: 'local' })
    if (segment.bytes > 0) metrics.segmentBytesServed.inc(segment.bytes)
  })

  return router
}
