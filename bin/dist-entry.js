// Where the prebuilt CLI lives (bin/build-dist.js writes it) and whether it may be used instead of the sources.
import { readFileSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The package root, as a directory URL. */
export const ROOT = new URL('../', import.meta.url)
export const DIST_DIR = fileURLToPath(new URL('dist/', ROOT))
/** The bundled node/cli.ts. */
export const DIST_ENTRY = fileURLToPath(new URL('dist/cli.js', ROOT))
/** `{ builtMs, entry, inputs }`: when the bundle was built and the files (relative to the root) it depends on. */
export const BUILD_MANIFEST = fileURLToPath(new URL('dist/build.json', ROOT))
/** Files besides the bundled sources whose change makes the bundle stale: dependencies, compiler settings, the build. */
export const WATCHED_FILES = Object.freeze(['package.json', 'package-lock.json', 'tsconfig.json', 'bin/build-dist.js', 'bin/bundle-settings.js'])

/**
 * The bundled CLI's path when it exists and no file it was built from has changed since (so an edited source is
 * never shadowed by an old bundle); undefined otherwise, or when `CIDCAST_FROM_SOURCE` is set (tests use it).
 */
export function freshDistEntry (env = process.env) {
  if (env.CIDCAST_FROM_SOURCE != null && env.CIDCAST_FROM_SOURCE !== '' && env.CIDCAST_FROM_SOURCE !== '0') return undefined
  let manifest
  try {
    manifest = JSON.parse(readFileSync(BUILD_MANIFEST, 'utf8'))
  } catch {
    return undefined
  }
  if (!Number.isFinite(manifest?.builtMs) || !Array.isArray(manifest.inputs)) return undefined
  try {
    // ~100 stat calls, about a millisecond
    for (const file of manifest.inputs) {
      if (statSync(new URL(file, ROOT)).mtimeMs > manifest.builtMs) return undefined
    }
    statSync(DIST_ENTRY)
  } catch {
    // a source was deleted or moved, or the bundle is incomplete
    return undefined
  }
  return DIST_ENTRY
}
