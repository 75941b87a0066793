import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'

/** The process's Prometheus metrics; one registry per daemon so tests can run several in one process. */
export interface Metrics {
  registry: Registry
  ffmpegSessionsStarted: Counter
  ffmpegSessionsRunning: Gauge
  segmentsServed: Counter<'source'>
  segmentBytesServed: Counter
  mediaAdded: Counter
  posterFrames: Counter
}

/** Creates the registry and the metrics every daemon exposes at `/metrics`. */
export function createMetrics (sources: { runningSessions?: () => number } = {}): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'cidcast_' })
  return {
    registry,
    ffmpegSessionsStarted: new Counter({ name: 'cidcast_ffmpeg_sessions_started_total', help: 'ffmpeg transcoding sessions started', registers: [registry] }),
    ffmpegSessionsRunning: new Gauge({
      name: 'cidcast_ffmpeg_sessions_running',
      help: 'ffmpeg transcoding sessions running now',
      registers: [registry],
      collect () { if (sources.runningSessions != null) this.set(sources.runningSessions()) }
    }),
    segmentsServed: new Counter({ name: 'cidcast_segments_served_total', help: 'HLS segments served', labelNames: ['source'], registers: [registry] }),
    segmentBytesServed: new Counter({ name: 'cidcast_segment_bytes_served_total', help: 'bytes of HLS segments served', registers: [registry] }),
    mediaAdded: new Counter({ name: 'cidcast_media_added_total', help: 'media added to the library', registers: [registry] }),
    posterFrames: new Counter({ name: 'cidcast_poster_frames_total', help: 'frames taken from videos with ffmpeg as posters for media without artwork', registers: [registry] })
  }
}
