import type { Plugin } from 'esbuild'

/** esbuild settings of both bundles of the CDN node (dist/ and the single executable's). */
export declare const BUNDLE_SETTINGS: Readonly<{ minify: true, keepNames: true, charset: 'ascii', legalComments: 'none' }>
/** Packages of which one copy per major version is bundled, the newest installed. */
export declare const ONE_COPY_PER_MAJOR: readonly string[]
/** An esbuild plugin bundling one copy of each package version installed several times (and of `perMajor`, one per major). */
export declare function oneCopyOfEach (root: string, perMajor?: readonly string[]): Plugin
/** An esbuild plugin that bundles pino without its worker transports (thread-stream becomes a class that refuses). */
export declare const noPinoTransports: Plugin
/** An esbuild plugin that makes noise's default crypto the project's `nativeNoiseCrypto` (no AssemblyScript ChaCha20 loaded). */
export declare function noiseDefaultCrypto (root: string): Plugin
/** An esbuild plugin that makes libp2p's peer store sort its sets by code units rather than with an ICU collator. */
export declare const codeUnitSorts: Plugin
/** An esbuild plugin that gives Koa a `Response` whose `instanceof` does not load undici for plain objects. */
export declare const lazyResponseForKoa: Plugin
