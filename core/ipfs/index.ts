/*
 * core/ipfs: content addressing for both sides: the import profile, hashing a file without storing it, the verified
 * blockstore (every block read from disk checked against its CID), the block reader with its LRU, the UnixFS path and
 * content reader, CAR export, the block stream (a DAG from a peer that holds it, in one libp2p stream), the pin walker
 * that skips leaves, and the integrity of what is stored: pin verification, block repair from the peers, the
 * background scrub and their metrics. Other folders import this file
 * only.
 */

export { CHUNK_BYTES, IMPORT_OPTIONS } from './import-profile.ts'
export { hashFile } from './hash-file.ts'
export { assertHeldCid, assertPinnableCid } from './content-cid.ts'
export { checkableHash, hashMatches } from './block-hash.ts'
export { createVerifiedBlockstore, findVerifiedBlockstore } from './verified-blockstore.ts'
export type { BlockChange, BlockCheck, BlockIntegrityStats, VerifiedBlockstore, VerifiedBlockstoreComponents, VerifiedBlockstoreInit } from './verified-blockstore.ts'
export { createBlockRepairer, repairWhenDamaged } from './block-repair.ts'
export type { BlockRepairComponents, BlockRepairer, BlockRepairInit, RepairOptions, RepairStats } from './block-repair.ts'
export { verifyPins } from './pin-verify.ts'
export type { BlockProblem, BrokenBlock, VerifyComponents, VerifyOptions, VerifyReport } from './pin-verify.ts'
export { createScrubber, DEFAULT_SCRUB_BYTES_PER_SECOND, DEFAULT_SCRUB_INTERVAL_MS } from './scrub.ts'
export type { ScrubComponents, ScrubInit, ScrubPass, ScrubStatus, Scrubber } from './scrub.ts'
export { integrityStatus, registerIntegrityMetrics } from './integrity-metrics.ts'
export type { IntegritySources, IntegrityStatus } from './integrity-metrics.ts'
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
export { BLOCK_STREAM_PROTOCOL, BlockStreamFrameError, BlockStreamStalledError, FrameReader, MAX_BLOCK_FRAME_BYTES, MAX_CONTROL_FRAME_BYTES, MAX_HAVE, MAX_REQUEST_BYTES, MAX_STREAM_BLOCKS, blockFrameHead, frame, jsonFrame, parseBlockFrame, parseJson, send } from './block-stream-wire.ts'
export type { BlockStreamAnswer, BlockStreamRequest, BlockStreamTrailer } from './block-stream-wire.ts'
export { serveBlockStreams } from './block-stream-serve.ts'
export type { BlockStreamServer, BlockStreamServerComponents, BlockStreamServerInit } from './block-stream-serve.ts'
