import { readFile } from 'node:fs/promises'
import test from 'ava'
import { CONFIG_KEYS } from '../../../core/config/index.ts'
import type { Program } from '../../../core/config/index.ts'

/** The rows of the README's table whose header starts with `header`: first cell's keys and every row's CIDCAST_* names. */
async function readmeTable (header: string): Promise<{ keys: Set<string>, envs: Set<string> }> {
  const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8')
  const lines = readme.split('\n')
  const start = lines.findIndex(l => l.startsWith(header))
  if (start < 0) throw new Error(`no table ${header} in README.md`)
  const keys = new Set<string>()
  const envs = new Set<string>()
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break
    const [first = ''] = line.split('|').slice(1)
    for (const [, key] of first.matchAll(/`([A-Za-z0-9]+)`/g)) keys.add(key)
    for (const [env] of line.matchAll(/CIDCAST_[A-Z0-9_]+/g)) envs.add(env)
  }
  return { keys, envs }
}

function tableOf (...programs: Program[]): { keys: Set<string>, envs: Set<string> } {
  const keys = CONFIG_KEYS.filter(k => programs.includes(k.program))
  return { keys: new Set(keys.filter(k => k.inFile !== false).map(k => k.key)), envs: new Set(keys.map(k => k.env)) }
}

test('the README\'s configuration table lists exactly the keys of the main server, its metadata and the client verbs', async t => {
  const readme = await readmeTable('| key (`config.json`)')
  const table = tableOf('server', 'metadata', 'client')
  t.deepEqual([...readme.keys].sort(), [...table.keys].sort())
  t.deepEqual([...readme.envs].sort(), [...table.envs].sort())
})

test('the README\'s node table lists exactly the keys of a CDN node', async t => {
  const readme = await readmeTable('| key (`node.json`)')
  const table = tableOf('node')
  t.deepEqual([...readme.keys].sort(), [...table.keys].sort())
  t.deepEqual([...readme.envs].sort(), [...table.envs].sort())
})
