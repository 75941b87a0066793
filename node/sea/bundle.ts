import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'
import { BUNDLE_SETTINGS, codeUnitSorts, lazyResponseForKoa, noiseDefaultCrypto, noPinoTransports, oneCopyOfEach } from '../../bin/bundle-settings.js'
import type { Plugin } from 'esbuild'

/*
 * The CDN node as one CommonJS file, the main script of the single executable (Node 24 runs a SEA's main script as
 * CommonJS, where only built-in modules can be required). Everything is bundled; as in bin/build-dist.js, packages
 * that declare `"sideEffects": false` lose what the node never calls (kad-dht, WebRTC, relays, autonat, UPnP, TLS,
 * the HTTP gateways that `helia` and `@helia/libp2p` import from their entry points). What reads files beside its
 * module is dealt with here, found by reading the bundle's module graph:
 * - classic-level's binding (node-gyp-build looks for `prebuilds/` beside the package): replaced by the addon the
 *   executable carries (node/sea/embedded.ts);
 * - pino's transports (thread-stream runs `worker.js` files beside pino): left out, as in dist/
 *   (bin/bundle-settings.js); the node logs to stdout in its own process and never asks for a transport;
 * - the web UI (node/web-ui.ts reads client/public and hls.js beside the sources): carried as assets;
 * - `import.meta.url` is the executable's own path, for what compares it (node/node-main.ts).
 * No other native addon, worker file, or file read beside a module is in the graph; `checkModuleGraph` keeps it so.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const ENTRY = 'node/node-main.ts'
const EMBEDDED = fileURLToPath(new URL('./embedded.ts', import.meta.url))

/** Packages that load native code or files found at run time; none may be left in the bundle. */
const FILE_LOADERS = ['node-gyp-build', 'bindings', 'node-pre-gyp', '@mapbox/node-pre-gyp', 'prebuild-install', 'thread-stream', 'pino-worker', 'real-require']

/** The bundle's code and the project files and packages it was made from. */
export interface NodeBundle {
  code: Uint8Array
  /** Inputs relative to the project root (packages as `node_modules/...` wherever npm put them). */
  inputs: string[]
}

/** classic-level's `binding.js` becomes the embedded addon's loader. */
const embeddedClassicLevel: Plugin = {
  name: 'cidcast-embedded-classic-level',
  setup (build) {
    build.onLoad({ filter: /[\\/]classic-level[\\/]binding\.js$/ }, () => ({
      contents: `module.exports = require(${JSON.stringify(EMBEDDED)}).embeddedAddon('classic-level')\n`,
      loader: 'js',
      resolveDir: ROOT
    }))
  }
}

/** Throws when the module graph holds a `.node` file or a package that loads native code or files at run time. */
export function checkModuleGraph (inputs: readonly string[]): void {
  const found = inputs.filter(input => input.endsWith('.node') || FILE_LOADERS.some(pkg => input.includes(`node_modules/${pkg}/`)))
  if (found.length > 0) throw new Error(`the executable's bundle would load files from outside it: ${found.join(', ')}`)
}

/** Bundles node/node-main.ts into one CommonJS script for the single executable. */
export async function bundleNode (): Promise<NodeBundle> {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [ENTRY],
    write: false,
    outfile: 'cidcast-node.cjs',
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    // minified, names kept, as dist/ (bin/bundle-settings.js)
    ...BUNDLE_SETTINGS,
    metafile: true,
    logLevel: 'warning',
    define: { 'import.meta.url': '__cidcast_import_meta_url' },
    banner: { js: "var __cidcast_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
    plugins: [embeddedClassicLevel, noPinoTransports, noiseDefaultCrypto(ROOT), codeUnitSorts, lazyResponseForKoa, oneCopyOfEach(ROOT)]
  })
  const inputs = Object.keys(result.metafile.inputs).map(input => {
    // packages by their path inside node_modules: the folder may be a link that resolves outside the root
    const at = input.lastIndexOf('node_modules/')
    return at >= 0 ? input.slice(at) : input
  })
  checkModuleGraph(inputs)
  // an import() left in the script would fail at run time: the executable's code cache (node/sea/package.ts) leaves
  // the script no way to load a module
  const dynamic = Object.values(result.metafile.outputs).flatMap(output => output.imports).filter(i => i.kind === 'dynamic-import')
  if (dynamic.length > 0) throw new Error(`the executable's bundle would import() at run time: ${dynamic.map(i => i.path).join(', ')}`)
  return { code: result.outputFiles[0].contents, inputs }
}
