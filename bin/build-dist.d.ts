/** Packages left outside the bundle and loaded from node_modules at run time. */
export declare const EXTERNAL: readonly string[]
/** Bundles node/cli.ts into dist/; false (after logging why) when esbuild is not installed. */
export declare function buildDist (options?: { log?: (line: string) => void }): Promise<boolean>
