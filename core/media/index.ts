/*
 * core/media: the main server's media room: probe, ladder, grid, ffmpeg sessions and the transcoder, the segment
 * store, rendition DAGs, poster frames and the library over them. A CDN node never loads it: the `/media` names and
 * playlist text both sides share live in core/hls. Other folders import this file only.
 */

export { findChildLauncher } from './child-launcher.ts'
export type { ChildLauncher } from './child-launcher.ts'
export { ENCODER_SETTINGS, PIECE_PATTERN, SESSION_PLAYLIST, sessionArgs } from './ffmpeg-args.ts'
export { FfmpegNotFoundError, resolveFfmpeg } from './ffmpeg-binary.ts'
export type { FfmpegBinary } from './ffmpeg-binary.ts'
export { fixedGrid, keyframeGrid, renditionKey, SEGMENT_SECONDS } from './grid.ts'
export type { SegmentGrid } from './grid.ts'
export { createLibrary, mediaId } from './library.ts'
export type { Library, LibraryComponents, LibraryInit, LibraryMetadataHooks, MediaView, RenditionView } from './library.ts'
export { createPosterFrames, PosterFrameError } from './poster-frame.ts'
export type { PosterFrames } from './poster-frame.ts'
export { probe } from './probe.ts'
export type { ProbeResult } from './probe.ts'
export { planLadder } from './profiles.ts'
export type { Profile, RenditionPlan } from './profiles.ts'
export type { LeaseClaim, TranscodeLeaseStore, TranscoderLeases } from './leases.ts'
export { createSegmentStore } from './segment-store.ts'
export type { SegmentIndex, SegmentStore, StoredSegment } from './segment-store.ts'
export { createTranscoder } from './transcoder.ts'
export type { RenditionJob, Transcoder, TranscoderInit } from './transcoder.ts'
