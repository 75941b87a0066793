// What both bundles of the CDN node share: dist/ (bin/build-dist.js, what `cidcast node` runs from an npm install)
// and the single executable's (node/sea/bundle.ts). Plain JavaScript, as bin/build-dist.js runs at `npm install`.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join, sep } from 'node:path'

/**
 * esbuild settings of both bundles. Minified because V8 keeps every loaded module's source text in memory, for lazy
 * compilation and `Function.prototype.toString`: unminified, the chunks a CDN node loads were 7.5 MB of source held,
 * and a comment with one non-Latin-1 character (a dash, an emoji in a doc comment) stores a whole chunk at two bytes
 * a character. Names are kept: the project's errors are told apart by `name`, and stack traces stay readable.
 */
export const BUNDLE_SETTINGS = Object.freeze({
  minify: true,
  keepNames: true,
  // the default; said here because the two-byte sources above are what it prevents
  charset: 'ascii',
  legalComments: 'none'
})

/**
 * An esbuild plugin that turns thread-stream (pino's transports, run on worker threads from files beside pino, which
 * a bundle does not have) into a class that refuses. The daemons log to stdout in their own process and never ask for
 * a transport; asking fails with a message saying so. With it pino is bundled rather than loaded from node_modules.
 */
export const noPinoTransports = Object.freeze({
  name: 'cidcast-no-pino-transports',
  setup (build) {
    build.onResolve({ filter: /^thread-stream$/ }, () => ({ path: 'thread-stream', namespace: 'cidcast-stub' }))
    build.onLoad({ filter: /^thread-stream$/, namespace: 'cidcast-stub' }, () => ({
      contents: "module.exports = class ThreadStream { constructor () { throw new Error('pino transports are not available in the bundled cidcast: it logs to stdout') } }\n",
      loader: 'js'
    }))
  }
})

/**
 * An esbuild plugin that makes `@chainsafe/libp2p-noise`'s default crypto the one the peer always gives it,
 * `nativeNoiseCrypto` (core/net/noise-crypto.ts): the default module instantiates two AssemblyScript ChaCha20 modules
 * when loaded (1 MB of WebAssembly memory and their code, ~2 MB of RSS) for a crypto the node never uses.
 */
export function noiseDefaultCrypto (root) {
  return {
    name: 'cidcast-noise-default-crypto',
    setup (build) {
      build.onResolve({ filter: /^\.\/crypto\/index\.js$/ }, args => /[\\/]libp2p-noise[\\/]dist[\\/]src[\\/]noise\.js$/.test(args.importer)
        ? { path: 'noise-default-crypto', namespace: 'cidcast-stub' }
        : undefined)
      build.onLoad({ filter: /^noise-default-crypto$/, namespace: 'cidcast-stub' }, () => ({
        contents: "export { nativeNoiseCrypto as defaultCrypto } from './core/net/noise-crypto.ts'\n",
        loader: 'js',
        resolveDir: root
      }))
    }
  }
}

/**
 * The files of libp2p's peer store that sort with `String.prototype.localeCompare`: the protocols, addresses and
 * metadata keys of every peer record (each identify, each new stream), and peer records compared as sets. The order
 * only makes those sets canonical, and none of them holds anything but ASCII (protocol ids, multiaddrs, keys), yet
 * the first call makes V8 build an ICU collator: ~2.6 MB of RSS (ICU's collation data and code) in an idle node.
 */
const LOCALE_SORTS = /[\\/]@libp2p[\\/](peer-store[\\/]dist[\\/]src[\\/]utils[\\/](to-peer-pb|dedupe-addresses)|peer-record[\\/]dist[\\/]src[\\/]peer-record[\\/]utils)\.js$/
/** `x.localeCompare(y)` where x and y are a name, a member chain, or one ending in a call without arguments. */
const LOCALE_COMPARE = /([\w$]+(?:\.[\w$]+)*(?:\(\))?)\.localeCompare\(([\w$]+(?:\.[\w$]+)*(?:\(\))?)\)/g

/**
 * An esbuild plugin that makes the peer store's `localeCompare` sorts (LOCALE_SORTS) compare code units, as `<` does.
 * A file whose calls no longer all fit LOCALE_COMPARE fails the build, so a changed libp2p is looked at again.
 */
export const codeUnitSorts = Object.freeze({
  name: 'cidcast-code-unit-sorts',
  setup (build) {
    build.onLoad({ filter: LOCALE_SORTS }, async args => {
      const source = await readFile(args.path, 'utf8')
      const calls = source.split('.localeCompare(').length - 1
      let replaced = 0
      const contents = source.replace(LOCALE_COMPARE, (_, a, b) => { replaced++; return `__cidcastCodeUnits(${a}, ${b})` })
      if (replaced !== calls) {
        return { errors: [{ text: `${args.path}: ${calls - replaced} of its ${calls} localeCompare calls no longer have the expected form; look at bin/bundle-settings.js's codeUnitSorts again` }] }
      }
      return { contents: `const __cidcastCodeUnits = (a, b) => a < b ? -1 : a > b ? 1 : 0;\n${contents}`, loader: 'js' }
    })
  }
})

/**
 * Koa asks `body instanceof Response` of every object it answers with (each JSON answer), and reading the global
 * `Response` makes Node load undici, its fetch: its code, its WebAssembly HTTP parser and their compilers' pages, ~3.5 MB
 * of an idle node's RSS when nothing else of the node's idle work uses fetch. Koa's two files that ask get a
 * `Response` of their own whose `instanceof` reads the global only for a value made by a class named Response, which
 * is the same answer for every value.
 */
export const lazyResponseForKoa = Object.freeze({
  name: 'cidcast-koa-lazy-response',
  setup (build) {
    build.onLoad({ filter: /[\\/]koa[\\/]lib[\\/](response|application)\.js$/ }, async args => {
      const source = await readFile(args.path, 'utf8')
      if (!/\binstanceof Response\b/.test(source)) return undefined
      const lazy = "const Response = { [Symbol.hasInstance]: value => value != null && value.constructor != null && value.constructor.name === 'Response' && value instanceof globalThis.Response };\n"
      // after the 'use strict' directive, which must stay first
      return { contents: source.replace(/^(\s*(['"])use strict\2;?[^\n]*\n)?/, directive => directive + lazy), loader: 'js' }
    })
  }
})

/**
 * Packages of which one copy per major version is bundled, the newest installed, where npm left several (nested
 * under the packages that asked for an older range): large, or building large tables when loaded. mime-db is 190 KB
 * of data that Koa's `mime-types`, `type-is`'s and `accepts`' each loaded as a copy of its own.
 */
export const ONE_COPY_PER_MAJOR = Object.freeze(['mime-db', 'mime-types'])

/** Every installed copy of every package under `nodeModules` (at its top and one package deep): name -> copies. */
function installedCopies (nodeModules) {
  const copies = new Map()
  const add = (name, dir) => {
    let version
    try {
      version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version
    } catch {
      return
    }
    if (typeof version !== 'string') return
    if (!copies.has(name)) copies.set(name, [])
    // as esbuild names files: node_modules may be a link
    copies.get(name).push({ dir: realpathSync(dir), version })
  }
  const packagesIn = folder => {
    const names = []
    for (const entry of readdirSync(folder)) {
      if (entry.startsWith('.')) continue
      if (entry.startsWith('@')) names.push(...readdirSync(join(folder, entry)).map(pkg => `${entry}/${pkg}`))
      else names.push(entry)
    }
    return names
  }
  for (const name of packagesIn(nodeModules)) {
    add(name, join(nodeModules, name))
    const nested = join(nodeModules, name, 'node_modules')
    if (existsSync(nested)) for (const inner of packagesIn(nested)) add(inner, join(nested, inner))
  }
  for (const list of copies.values()) list.sort((a, b) => a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0)
  return copies
}

function compareVersions (a, b) {
  const pa = a.split(/[.+-]/).map(Number)
  const pb = b.split(/[.+-]/).map(Number)
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] || 0) - (pb[i] || 0)
  return 0
}

/** `multiformats/cid` -> `multiformats`, `@scope/name/x` -> `@scope/name`. */
function packageName (specifier) {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
}

/**
 * An esbuild plugin that bundles one copy of a package where npm installed the same version several times (nested
 * under each package that could not share the top one: 17 copies of protons-runtime 7.1.2, 5 of multiformats
 * 13.4.2), and one copy per major version of `perMajor`: the same code and data loaded once instead of once per
 * dependent. The copy kept is the newest of its major (`perMajor`), else the first by path, so builds are the same.
 */
export function oneCopyOfEach (root, perMajor = ONE_COPY_PER_MAJOR) {
  return {
    name: 'cidcast-one-copy',
    setup (build) {
      let copies
      /** The copy `dir` (of `name` at `version`) is replaced by, or undefined to keep it. */
      const replacement = (name, dir, version) => {
        copies ??= installedCopies(join(root, 'node_modules'))
        const list = copies.get(name) ?? []
        const major = version.split('.')[0]
        const same = perMajor.includes(name)
          ? list.filter(copy => copy.version.split('.')[0] === major).sort((a, b) => compareVersions(b.version, a.version))
          : list.filter(copy => copy.version === version)
        return same.length > 1 && same[0].dir !== dir ? same[0] : undefined
      }
      // bare specifiers: packages (a Node built-in resolves as external and is left alone)
      build.onResolve({ filter: /^[^./]/ }, async args => {
        if (args.pluginData?.oneCopy === true || args.path.startsWith('node:')) return undefined
        const options = { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { oneCopy: true } }
        const found = await build.resolve(args.path, options)
        // what it cannot resolve, esbuild's own resolution reports (or tolerates, inside a try)
        if (found.errors.length > 0) return undefined
        if (found.external || found.namespace !== 'file') return found
        const name = packageName(args.path)
        const marker = `${sep}node_modules${sep}${name.split('/').join(sep)}${sep}`
        const at = found.path.lastIndexOf(marker)
        if (at < 0) return found
        const dir = found.path.slice(0, at + marker.length - 1)
        let version
        try {
          version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version
        } catch {
          return found
        }
        const copy = replacement(name, dir, version)
        if (copy == null) return found
        // resolved again from the folder that holds the copy's node_modules, so subpaths and `exports` still apply
        const holder = dirname(copy.dir.slice(0, copy.dir.length - name.length - 1))
        return await build.resolve(args.path, { ...options, resolveDir: holder })
      })
    }
  }
}
