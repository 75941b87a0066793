import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import test from 'ava'
import { Linter } from 'eslint'
import { parser } from 'typescript-eslint'
import cidcast from '../../lint/import-boundaries.js'

/*
 * The import rule (lint/import-boundaries.js): each case lints one import as if it stood in a file of the tree
 * and says which message, if any, it gets. The last test checks that `npm run lint` (and so `npm test`) runs it.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const linter = new Linter({ configType: 'flat', cwd: ROOT })
const config: Linter.Config[] = [{
  files: ['**/*.ts'],
  languageOptions: { parser },
  plugins: { cidcast },
  rules: { 'cidcast/import-boundaries': 'error' }
}]

/** The boundary messages for `code` placed at `file` (a path from the project root; the file need not exist). */
function boundaryMessages (file: string, code: string): string[] {
  return linter.verify(code, config, { filename: `${ROOT}${file}` }).map(m => m.message)
}

test('an import against the direction fails: core may not import gateway or node, gateway may not import node', t => {
  t.deepEqual(boundaryMessages('core/edge/x.ts', "import { startNode } from '../../node/cdn-node.ts'"), ['core/ may not import node/ (imports point one way: core <- gateway <- node)'])
  t.deepEqual(boundaryMessages('core/media/x.ts', "export { errors } from '../../gateway/middleware/errors.ts'"), ['core/ may not import gateway/ (imports point one way: core <- gateway <- node)'])
  t.deepEqual(boundaryMessages('gateway/x.ts', "const server = await import('../node/server.ts')"), ['gateway/ may not import node/ (imports point one way: core <- gateway <- node)'])
  t.deepEqual(boundaryMessages('node/x.ts', "import { errors } from '../gateway/middleware/errors.ts'"), [])
})

test('a file behind a room\'s entry is reached through the entry from outside the room; tests may reach behind it', t => {
  t.deepEqual(boundaryMessages('gateway/x.ts', "import { createPinner } from '../core/edge/pinner.ts'"), ['import core/edge/ through its entry file core/edge/index.ts, not core/edge/pinner.ts'])
  t.is(boundaryMessages('core/replication/x.ts', "import { nudgeNode } from '../control/orders-nudge.ts'").length, 1)
  t.is(boundaryMessages('bench/x.ts', "import { fetchDag } from '../core/edge/pin-fetch.ts'").length, 1)
  t.deepEqual(boundaryMessages('gateway/x.ts', "import { createPinner } from '../core/edge/index.ts'"), [])
  t.deepEqual(boundaryMessages('test/core/edge/x.test.ts', "import { gatewayBlocks } from '../../../core/edge/gateway-blocks.ts'"), [])
  // core's shared files (errors, logger...) belong to no room, and a room without an entry file is reached directly
  t.deepEqual(boundaryMessages('gateway/x.ts', "import { HTTP_STATUS } from '../core/errors.ts'"), [])
  t.deepEqual(boundaryMessages('node/x.ts', "import { MEDIA_KINDS } from '../core/media-query.ts'"), [])
  t.deepEqual(boundaryMessages('client/x.ts', "import type { MediaListOptions } from '../core/media-query.ts'"), [])
  t.deepEqual(boundaryMessages('gateway/x.ts', "import { newThing } from '../core/room-without-entry/new-thing.ts'"), [])
  t.deepEqual(boundaryMessages('bench/x.ts', "import { createPeer } from '../core/net/peer.ts'"), ['import core/net/ through its entry file core/net/index.ts, not core/net/peer.ts'])
  t.is(boundaryMessages('core/edge/x.ts', "import { probe } from '../media/probe.ts'").length, 1)
  t.deepEqual(boundaryMessages('gateway/x.ts', "import { createCatalog } from '../core/catalog/catalog.ts'"), ['import core/catalog/ through its entry file core/catalog/index.ts, not core/catalog/catalog.ts'])
})

test('inside a room files import each other, not the room\'s own entry', t => {
  t.deepEqual(boundaryMessages('core/edge/x.ts', "import { createPinner } from './index.ts'"), ['a file of core/edge/ imports its neighbours directly, not the room\'s entry file (that makes a circle)'])
  t.deepEqual(boundaryMessages('core/edge/x.ts', "import { createPinner } from './pinner.ts'"), [])
})

test('client takes only types from core', t => {
  t.deepEqual(boundaryMessages('client/x.ts', "import { parseReplicas } from '../core/replication/index.ts'"), ['client/ takes only types from core/: use `import type`'])
  t.deepEqual(boundaryMessages('client/x.ts', "import type { NodeView } from '../core/replication/index.ts'"), [])
  t.deepEqual(boundaryMessages('client/x.ts', "import { type NodeView } from '../core/replication/index.ts'"), [])
  t.is(boundaryMessages('client/x.ts', "import { startServer } from '../node/server.ts'").length, 1)
})

test('the project\'s lint, and so npm test, runs the rule as an error', async t => {
  const eslint = join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js')
  const { stdout } = await promisify(execFile)(process.execPath, [eslint, '--print-config', 'gateway/app.ts'], { cwd: ROOT })
  const printed = JSON.parse(stdout) as { rules: Record<string, unknown> }
  t.deepEqual(printed.rules['cidcast/import-boundaries'], [2])
})
