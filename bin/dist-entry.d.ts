/** The package root, as a directory URL. */
export declare const ROOT: URL
export declare const DIST_DIR: string
/** The bundled node/cli.ts. */
export declare const DIST_ENTRY: string
/** `{ builtMs, entry, inputs }` of the last build. */
export declare const BUILD_MANIFEST: string
/** Files besides the bundled sources whose change makes the bundle stale. */
export declare const WATCHED_FILES: readonly string[]
/** The bundled CLI's path when it exists and is newer than all it was built from; undefined otherwise or with `CIDCAST_FROM_SOURCE`. */
export declare function freshDistEntry (env?: NodeJS.ProcessEnv): string | undefined
