import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { loadNodeConfig, NODE_CONFIG_FILE } from '../../node/node-config.ts'
import { tempDir } from '../helpers/tmp.ts'

test('pins fetch from gateways and bitswap by default; --pin-from p2p is remembered, a bad value named', async t => {
  const dir = await tempDir('cidcast-node-config-')
  t.teardown(dir.remove)
  const first = await loadNodeConfig({ data: join(dir.path, 'a'), name: 'a' }, {})
  t.is(first.pinFrom, 'any')

  const data = join(dir.path, 'b')
  t.is((await loadNodeConfig({ data, name: 'b', pinFrom: 'p2p' }, {})).pinFrom, 'p2p')
  t.is(JSON.parse(await readFile(join(data, NODE_CONFIG_FILE), 'utf8')).pinFrom, 'p2p')
  t.is((await loadNodeConfig({ data }, {})).pinFrom, 'p2p', 'the next run needs only the data folder')

  await t.throwsAsync(loadNodeConfig({ data: join(dir.path, 'c') }, { CIDCAST_NODE_PIN_FROM: 'http' }), { name: 'InvalidConfigError', message: /pinFrom must be one of any, p2p/ })
})
