import { glob } from 'node:fs/promises'
import { matchesGlob } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** test/tiers.js is plain JavaScript (the ava config files load it): typed here by hand. */
const tiers = await import(new URL('./tiers.js', import.meta.url).href) as { UNIT: string[], INTEGRATION: string[] }

async function testFiles (): Promise<string[]> {
  const files: string[] = []
  for await (const file of glob('test/**/*.test.ts', { cwd: ROOT })) files.push(file)
  return files.sort()
}

test('every test file is in exactly one tier', async t => {
  const files = await testFiles()
  t.true(files.length > 50, `found only ${files.length} test files`)
  const wrong = files.flatMap(file => {
    const unit = tiers.UNIT.some(pattern => matchesGlob(file, pattern))
    const integration = tiers.INTEGRATION.some(pattern => matchesGlob(file, pattern))
    if (unit && integration) return [`${file} is in both tiers`]
    if (!unit && !integration) return [`${file} is in no tier: add it to UNIT or INTEGRATION in test/tiers.js`]
    return []
  })
  t.deepEqual(wrong, [])
})

test('every pattern of a tier names at least one test file', async t => {
  const files = await testFiles()
  const stale = [...tiers.UNIT, ...tiers.INTEGRATION].filter(pattern => !files.some(file => matchesGlob(file, pattern)))
  t.deepEqual(stale, [])
})
