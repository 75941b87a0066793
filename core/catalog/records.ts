import type { Media, PlaybackProgress, Rendition } from './entities.ts'

/*
 * What the catalog hands out: plain objects, never entity instances, so callers cannot save half-changed
 * entities behind the catalog's back and JSON of a record is what the API sends.
 */

export type RenditionState = 'pending' | 'partial' | 'complete'

export interface MediaRecord {
  id: string
  sourceCid: string
  /** Last known path of the source file. */
  path: string
  title: string
  durationSeconds: number
  sizeBytes: number
  /** The probe summary as given to `upsertMedia`. */
  probe: Record<string, unknown>
  createdAt: Date
  updatedAt: Date
}

export interface RenditionRecord {
  key: string
  mediaId: string
  profile: string
  fingerprint: string
  state: RenditionState
  segmentCount: number
  initCid: string | null
  /** Root CID of the rendition's directory DAG once complete. */
  root: string | null
  createdAt: Date
  updatedAt: Date
}

export interface SegmentRecord {
  index: number
  cid: string
  bytes: number
}

export interface ProgressRecord {
  userId: string
  mediaId: string
  positionSeconds: number
  updatedAt: Date
}

export interface MediaInput {
  /** Short id derived from the source CID (at most 16 characters). */
  id: string
  sourceCid: string
  path: string
  title: string
  durationSeconds: number
  sizeBytes: number
  /** Any JSON-serialisable probe summary. */
  probe: object
}

export interface RenditionInput {
  /** Hash of (source CID, profile, fingerprint) (at most 64 characters). */
  key: string
  mediaId: string
  profile: string
  fingerprint: string
  segmentCount: number
}

/** A Media row as a record. */
export function toMediaRecord (row: Media): MediaRecord {
  return {
    id: row.id,
    sourceCid: row.sourceCid,
    path: row.path,
    title: row.title,
    durationSeconds: row.durationSeconds,
    sizeBytes: row.sizeBytes,
    probe: JSON.parse(row.probe),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt
  }
}

/** A Rendition row as a record. */
export function toRenditionRecord (row: Rendition): RenditionRecord {
  return {
    key: row.key,
    mediaId: row.mediaId,
    profile: row.profile,
    fingerprint: row.fingerprint,
    state: row.state as RenditionState,
    segmentCount: row.segmentCount,
    initCid: row.initCid,
    root: row.root,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt
  }
}

/** A PlaybackProgress row as a record. */
export function toProgressRecord (row: PlaybackProgress): ProgressRecord {
  return {
    userId: row.userId,
    mediaId: row.mediaId,
    positionSeconds: row.positionSeconds,
    updatedAt: row.updatedAt
  }
}
