import { readFile } from 'node:fs/promises'
import test from 'ava'
import { CIDCAST_VERSION } from '../../core/version.ts'

test('the version in the code is package.json\'s', async t => {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  t.is(CIDCAST_VERSION, pkg.version)
})
