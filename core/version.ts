/*
 * cidcast's version, as package.json says (test/core/version.test.ts keeps them equal). A constant rather than a
 * read of package.json: the single-file node has no package.json beside it.
 */

/** The version of this build of cidcast. */
export const CIDCAST_VERSION = '0.1.0'
