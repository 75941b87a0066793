import type { ImporterOptions } from 'ipfs-unixfs-importer'

/**
 * IPIP-499 `unixfs-v1-2025`: CIDv1, sha2-256, raw leaves, 1 MiB chunks, balanced layout with 1024 links per
 * node, so the same bytes get the same CID here and in Kubo. Blocks stay <= 1 MiB, which bitswap carries.
 * Frozen: the importer fills in defaults on the object it gets, so hand it a copy (`{ ...IMPORT_OPTIONS }`).
 */
export const IMPORT_OPTIONS: Readonly<Pick<ImporterOptions, 'profile' | 'cidVersion' | 'rawLeaves'>> = Object.freeze({
  profile: 'unixfs-v1-2025',
  cidVersion: 1,
  rawLeaves: true
})

/** Bytes per leaf block under the import profile. */
export const CHUNK_BYTES = 1_048_576
