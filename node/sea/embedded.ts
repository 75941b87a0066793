import { join } from 'node:path'
import { getAsset, getRawAsset } from 'node:sea'
import { assetCacheDir, cachedFile, cachedFolder } from './asset-cache.ts'
import type { WebUi } from '../../gateway/web-ui.ts'

/*
 * What the single executable carries besides its code (node/sea/package.ts puts it there as SEA assets), and how it
 * is used at run time. Nothing is read from outside the file: what must be a file is unpacked into the cache folder
 * (node/sea/asset-cache.ts) first.
 */

/** The asset listing the others. */
export const MANIFEST_ASSET = 'cidcast/manifest.json'

/** The manifest's content. */
export interface EmbeddedManifest {
  /** Native addons by package name: the asset holding the target's prebuild, and its sha256. */
  addons: Record<string, { asset: string, sha256: string }>
  /** The web UI: a hash over all its files, and each file's asset by its path in the unpacked folder. */
  ui: { hash: string, files: Record<string, string> }
}

/** The web UI's unpacked folder: `public/` is the client's folder, and hls.js beside it. */
export const UI_PUBLIC = 'public'
export const UI_HLS_JS = 'hls.min.js'

let manifest: EmbeddedManifest | undefined

function embeddedManifest (): EmbeddedManifest {
  manifest ??= JSON.parse(getAsset(MANIFEST_ASSET, 'utf8')) as EmbeddedManifest
  return manifest
}

/** The module of a native addon the executable carries, loaded from the cache folder (classic-level's binding in the bundle). */
export function embeddedAddon (name: string): unknown {
  const addon = embeddedManifest().addons[name]
  if (addon == null) throw new Error(`the executable carries no native addon ${name}`)
  const path = cachedFile(assetCacheDir(), { stem: name, ext: 'node' }, () => new Uint8Array(getRawAsset(addon.asset)), addon.sha256)
  const module = { exports: {} }
  process.dlopen(module, path)
  return module.exports
}

/** The web UI the executable carries, unpacked into the cache folder once per build. */
export function embeddedWebUi (): WebUi {
  const { ui } = embeddedManifest()
  const dir = cachedFolder(assetCacheDir(), 'ui', ui.hash, function * () {
    for (const [path, asset] of Object.entries(ui.files)) yield [path, new Uint8Array(getRawAsset(asset))]
  })
  return { dir: join(dir, UI_PUBLIC), hlsJs: join(dir, UI_HLS_JS) }
}
