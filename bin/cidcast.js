#!/usr/bin/env node
// Installed entry. Runs the bundled CLI in dist/ (built by `npm install` or `npm run build`) while it is newer than
// every source it was built from: no tsx, and none of the modules the sources import but never call, which was most
// of a CDN node's start time and memory. Otherwise it runs the TypeScript sources through tsx, on the project's own
// Node (>= 22). CIDCAST_FROM_SOURCE=1 forces the sources.
import { fileURLToPath, pathToFileURL } from 'node:url'
import { freshDistEntry } from './dist-entry.js'

const bundled = freshDistEntry()
let cli
if (bundled != null) {
  cli = await import(pathToFileURL(bundled).href)
} else {
  const { register } = await import('tsx/esm/api')
  // the project's tsconfig, wherever the command runs from: tsx looks in the working folder, and without the
  // project's experimentalDecorators TypeORM's entities fail to load (a bare "TypeError" from another folder)
  register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) })
  cli = await import('../node/cli.ts')
}
await cli.main()
