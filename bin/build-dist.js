#!/usr/bin/env node
// `npm run build` (and `prepare`, so a plain `npm install` runs it): bundles the CLI into dist/ with esbuild.
// Run from the TypeScript sources, a CDN node spends most of its start loading ~1,600 modules through tsx's hooks
// (profiled: resolving, reading and compiling them ~1.3 s, tsx itself ~0.4 s, the modules' own code ~0.2 s) and
// idles at ~220 MB RSS. About half of those modules are the public-network stack (kad-dht, WebRTC, circuit relay,
// autonat, UPnP, TLS/ACME, HTTP gateways) that `helia` and `@helia/libp2p` import from their only entry points
// although `createHeliaLight` + `withLibp2pLight` never call it. Those packages declare `"sideEffects": false`, so
// the bundle leaves that code out, and a few files per verb replace the hooks: ~0.5 s, ~107 MB. bin/cidcast.js
// uses dist/ only while it is newer than every source it was built from (bin/dist-entry.js); tests always run the
// sources. dist/ sits one level below the root like gateway/ and node/, so paths made from `import.meta.url`
// ('../client/public') still resolve; `NODE_OPTIONS=--enable-source-maps` maps stack traces back to the sources.
import { rm, writeFile } from 'node:fs/promises'
import { relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { BUNDLE_SETTINGS, codeUnitSorts, lazyResponseForKoa, noiseDefaultCrypto, noPinoTransports, oneCopyOfEach } from './bundle-settings.js'
import { BUILD_MANIFEST, DIST_DIR, DIST_ENTRY, ROOT, WATCHED_FILES } from './dist-entry.js'

/**
 * Packages left outside the bundle, loaded from node_modules at run time: native addons (better-sqlite3, and
 * node-gyp-build, which finds classic-level's) and packages that find files or optional modules next to themselves
 * (TypeORM's drivers, the ffmpeg/ffprobe installers' binaries, fluent-ffmpeg's `lib-cov` switch). Everything else
 * is inside: a CDN node loaded pino and classic-level's JavaScript (60 files) from node_modules, whose resolution
 * alone ran Node's path code hot enough for one optimizing compile at start (~5 MB of RSS, the compiler's pages).
 */
export const EXTERNAL = Object.freeze([
  'better-sqlite3',
  'node-gyp-build',
  'typeorm',
  'fluent-ffmpeg',
  '@ffmpeg-installer/*',
  '@ffprobe-installer/*'
])

/**
 * `node:http` and `node:https` imported by ES modules (the project's own) come through `require`, as CommonJS packages
 * take them: for an `import`, Node builds the built-in's ES module facade by reading each of its exports, and http's
 * `WebSocket`, `CloseEvent` and `MessageEvent` are getters that load undici (see lazyResponseForKoa).
 */
const httpByRequire = {
  name: 'cidcast-http-by-require',
  setup (build) {
    build.onResolve({ filter: /^(node:)?https?$/ }, args => args.kind === 'import-statement' || args.kind === 'dynamic-import'
      ? { path: args.path.replace(/^node:/, ''), namespace: 'cidcast-builtin' }
      : undefined)
    build.onLoad({ filter: /^https?$/, namespace: 'cidcast-builtin' }, args => ({ contents: `module.exports = require('node:${args.path}')\n`, loader: 'js' }))
  }
}

/** classic-level's `binding.js` (node-gyp-build looks for `prebuilds/` beside it) finds the installed package's. */
const installedClassicLevel = {
  name: 'cidcast-installed-classic-level',
  setup (build) {
    build.onLoad({ filter: /[\\/]classic-level[\\/]binding\.js$/ }, () => ({
      contents: "module.exports = require('node-gyp-build')(require('node:path').dirname(require.resolve('classic-level/package.json')))\n",
      loader: 'js'
    }))
  }
}

/** Bundles node/cli.ts into dist/ (one chunk per lazily loaded verb) and writes the list of sources it used. */
export async function buildDist (options = {}) {
  const log = options.log ?? (line => { process.stderr.write(`${line}\n`) })
  let esbuild
  try {
    esbuild = await import('esbuild')
  } catch (err) {
    // never fail an install over it: without dist/, bin/cidcast.js runs the sources through tsx
    log(`cidcast build: esbuild is not installed (${err.code ?? err.message}); the CLI will run from the TypeScript sources`)
    return false
  }
  // taken before reading any source: a file saved during the build counts as newer than the bundle
  const builtMs = Date.now()
  await rm(DIST_DIR, { recursive: true, force: true })
  const root = fileURLToPath(ROOT)
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { cli: 'node/cli.ts' },
    outdir: DIST_DIR,
    bundle: true,
    splitting: true,
    chunkNames: 'chunk-[hash]',
    platform: 'node',
    format: 'esm',
    target: 'node22',
    // minified, names kept (bin/bundle-settings.js)
    ...BUNDLE_SETTINGS,
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
    logLevel: 'warning',
    external: [...EXTERNAL],
    plugins: [httpByRequire, installedClassicLevel, noPinoTransports, noiseDefaultCrypto(root), codeUnitSorts, lazyResponseForKoa, oneCopyOfEach(root)],
    // bundled CommonJS packages `require()` Node built-ins, which an ES module has no `require` for
    banner: { js: "import { createRequire as __cidcastCreateRequire } from 'node:module'; const require = __cidcastCreateRequire(import.meta.url);" }
  })
  // metafile inputs are relative to absWorkingDir
  // project files only: not packages, nor a plugin's stand-ins (`namespace:path`)
  const sources = Object.keys(result.metafile.inputs).filter(path => !path.startsWith('..') && !path.includes('node_modules') && !path.includes(':'))
  await writeFile(BUILD_MANIFEST, JSON.stringify({ builtMs, entry: relative(root, DIST_ENTRY), inputs: [...WATCHED_FILES, ...sources] }, null, 2) + '\n')
  log(`cidcast build: bundled ${sources.length} sources into ${relative(root, DIST_DIR)}/ in ${Date.now() - builtMs} ms`)
  return true
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) await buildDist()
