// `npm run package [-- --target linux-x64,linux-arm64] [--out DIR]`: builds the CDN node's single executables
// (node/sea/package.ts) into dist-bin/. TypeScript run through tsx, unlike bin/build-dist.js: that one runs at `npm
// install` and must not need tsx, while this one imports the packaging code from node/sea/, which the tests and the
// bench import too. A bad argument gets one line and exit code 2; a failed build one line and exit code 1.
import { parseArgs } from 'node:util'
import { packageNode } from '../node/sea/package.ts'
import { parseTargets } from '../node/sea/targets.ts'
import type { Target } from '../node/sea/targets.ts'

let targets: Target[]
let outDir: string | undefined
try {
  const { values } = parseArgs({ options: { target: { type: 'string' }, out: { type: 'string' } }, strict: true })
  targets = parseTargets(values.target)
  outDir = values.out
} catch (err) {
  process.stderr.write(`package-node: ${(err as Error).message.split('\n')[0]}\n`)
  process.exit(2)
}
try {
  await packageNode({ targets, outDir, log: line => { process.stderr.write(`package-node: ${line}\n`) } })
} catch (err) {
  const e = err as Error
  process.stderr.write(`package-node: ${e.name}: ${e.message.split('\n')[0]}\n`)
  process.exit(1)
}
