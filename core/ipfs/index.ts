/*
 * core/ipfs: content addressing for both sides: the import profile, hashing a file without storing it, the block
 * reader with its LRU, the UnixFS path and content reader, CAR export and the pin walker that skips leaves. Other
 * folders import this file only.
 */

export { CHUNK_BYTES, IMPORT_OPTIONS } from './import-profile.ts'
export { hashFile } from './hash-file.ts'
export { assertHeldCid, assertPinnableCid } from './content-cid.ts'
export { createBlockReader } from './block-reader.ts'
export type { BlockCacheStats, BlockReader, BlockReaderComponents, BlockReaderInit, ReadOptions } from './block-reader.ts'
export { checkSegment, createContentReader } from './content-reader.ts'
export type {
  ContentEntry, ContentKind, ContentReader, ContentReaderComponents, ContentReaderInit, DirectoryEntry, FileSlice,
  ResolvedPath
} from './content-reader.ts'
export { carBlocks, encodeCar, entityRange } from './car-export.ts'
export type { CarBlock, CarBlocksOptions, DagScope, EntityBytes } from './car-export.ts'
export { leafSkippingWalker } from './pin-walker.ts'
