import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { loadNodeConfig, NODE_CONFIG_FILE, nodeListenSettings, rememberPicked } from '../../../core/config/index.ts'
import { tempDir } from '../../helpers/tmp.ts'

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

test('listen addresses left at their defaults are not remembered, and one an older version remembered is still a default', async t => {
  const dir = await tempDir('cidcast-node-config-')
  t.teardown(dir.remove)
  const data = join(dir.path, 'a')
  const config = await loadNodeConfig({ data, name: 'a' }, {})
  t.is(config.listen, '0.0.0.0:8081')
  t.deepEqual(config.setBy, { name: '--name' })
  const saved = JSON.parse(await readFile(join(data, NODE_CONFIG_FILE), 'utf8'))
  t.false('listen' in saved)
  t.false('p2pListen' in saved)

  const old = join(dir.path, 'old')
  await mkdir(old)
  await writeFile(join(old, NODE_CONFIG_FILE), JSON.stringify({ name: 'old', listen: '0.0.0.0:8081', p2pListen: ['/ip4/0.0.0.0/tcp/4002'] }))
  t.deepEqual((await loadNodeConfig({ data: old }, {})).setBy, { name: `name in ${join(old, NODE_CONFIG_FILE)}` })
  await writeFile(join(old, NODE_CONFIG_FILE), JSON.stringify({ name: 'old', listen: '0.0.0.0:9000' }))
  t.is((await loadNodeConfig({ data: old }, {})).setBy.listen, `listen in ${join(old, NODE_CONFIG_FILE)}`)

  const set = join(dir.path, 'set')
  const flagged = await loadNodeConfig({ data: set, listen: '127.0.0.1:9001' }, { CIDCAST_NODE_P2P_LISTEN: '/ip4/127.0.0.1/tcp/9002' })
  t.like(flagged.setBy, { listen: '--listen', p2pListen: 'CIDCAST_NODE_P2P_LISTEN' })
  t.like(JSON.parse(await readFile(join(set, NODE_CONFIG_FILE), 'utf8')), { listen: '127.0.0.1:9001', p2pListen: ['/ip4/127.0.0.1/tcp/9002'] })

  // npm start decides the node's ports on every run: what node.json says about them does not count
  const started = await loadNodeConfig({ data: set }, {}, { listen: '127.0.0.1:8181', p2pListen: ['/ip4/127.0.0.1/tcp/0'] })
  t.is(started.listen, '127.0.0.1:8181')
  t.is(started.setBy.listen, undefined)

  await t.throwsAsync(loadNodeConfig({ data: set }, { CIDCAST_LOG_FORMAT: 'fancy' }), { name: 'InvalidConfigError', message: /logFormat must be one of auto, json, pretty/ })
  await t.throwsAsync(loadNodeConfig({ data: set, p2pListen: ['/ip4/127.0.0.1/udp/4002/quic-v1'] }, {}), { name: 'InvalidConfigError', message: /p2pListen\[0\] must be a TCP multiaddr/ })
})

test('where a taken default moved is tried first on the next run, and forgotten once the user sets the address', async t => {
  const dir = await tempDir('cidcast-node-config-')
  t.teardown(dir.remove)
  const data = join(dir.path, 'moved')
  const first = await loadNodeConfig({ data, name: 'moved' }, {})
  await rememberPicked(first, { listen: '0.0.0.0:8083', p2pListen: '/ip4/0.0.0.0/tcp/4004' })
  t.deepEqual(JSON.parse(await readFile(join(data, NODE_CONFIG_FILE), 'utf8')).picked, { listen: '0.0.0.0:8083', p2pListen: '/ip4/0.0.0.0/tcp/4004' })

  const settings = nodeListenSettings(await loadNodeConfig({ data }, {}))
  t.deepEqual(settings.listen, { key: 'listen', address: '0.0.0.0:8081', setBy: undefined, prefer: 8083 })
  t.deepEqual(settings.p2pListen, [{ key: 'p2pListen', address: '/ip4/0.0.0.0/tcp/4002', setBy: undefined, prefer: 4004 }])
  // a picked address for another host (the node switched to local mode since) is not used
  t.is(nodeListenSettings(await loadNodeConfig({ data, mode: 'local' }, {})).listen.prefer, undefined)

  const set = await loadNodeConfig({ data, mode: 'shared', listen: '0.0.0.0:9100' }, {})
  t.like(nodeListenSettings(set).listen, { setBy: '--listen', prefer: undefined })
  t.deepEqual(JSON.parse(await readFile(join(data, NODE_CONFIG_FILE), 'utf8')).picked, { p2pListen: '/ip4/0.0.0.0/tcp/4004' })

  // the default was free: nothing to remember
  await rememberPicked(set, { listen: '0.0.0.0:9100', p2pListen: '/ip4/0.0.0.0/tcp/4002' })
  t.false('picked' in JSON.parse(await readFile(join(data, NODE_CONFIG_FILE), 'utf8')))
})

test('--owner is a user name, folded to lower case and remembered; a local node without one is warned it serves nobody', async t => {
  const dir = await tempDir('cidcast-node-config-')
  t.teardown(dir.remove)
  const data = join(dir.path, 'laptop')
  const first = await loadNodeConfig({ data, name: 'laptop', mode: 'local', owner: 'Alice' }, {})
  t.is(first.owner, 'alice')
  t.deepEqual(first.warnings, [])
  t.like(JSON.parse(await readFile(join(data, NODE_CONFIG_FILE), 'utf8')), { mode: 'local', owner: 'alice' })
  t.is((await loadNodeConfig({ data }, {})).owner, 'alice', 'the next run needs only the data folder')
  t.is((await loadNodeConfig({ data }, { CIDCAST_NODE_OWNER: 'bob' })).owner, 'bob')

  const unowned = await loadNodeConfig({ data: join(dir.path, 'unowned'), name: 'u', mode: 'local' }, {})
  t.is(unowned.owner, undefined)
  t.deepEqual(unowned.warnings, ['mode is local and no owner is set: this node serves nobody until it is given one (--owner USER)'])
  t.deepEqual((await loadNodeConfig({ data: join(dir.path, 'shared'), name: 's' }, {})).warnings, [], 'a shared node needs none')
  await t.throwsAsync(loadNodeConfig({ data: join(dir.path, 'bad'), owner: 'no spaces' }, {}), { name: 'InvalidConfigError', message: /^owner must be a user name/ })
})

test('--region and --tags are folded to lower case, remembered, cleared by an empty value, and a bad one is refused naming its key', async t => {
  const dir = await tempDir('cidcast-node-config-')
  t.teardown(dir.remove)
  const data = join(dir.path, 'edge')
  const file = join(data, NODE_CONFIG_FILE)
  const first = await loadNodeConfig({ data, name: 'edge', region: ' EU-West ', tags: 'GPU, ssd,gpu' }, {})
  t.is(first.region, 'eu-west')
  t.deepEqual(first.tags, ['gpu', 'ssd'], 'repeats dropped, order kept')
  t.like(JSON.parse(await readFile(file, 'utf8')), { region: 'eu-west', tags: ['gpu', 'ssd'] })
  t.like(await loadNodeConfig({ data }, {}), { region: 'eu-west', tags: ['gpu', 'ssd'] }, 'the next run needs only the data folder')
  t.like(await loadNodeConfig({ data }, { CIDCAST_REGION: 'us-east', CIDCAST_TAGS: 'edge-1' }), { region: 'us-east', tags: ['edge-1'] })

  // an empty flag clears the remembered value
  const cleared = await loadNodeConfig({ data, region: '', tags: '' }, {})
  t.is(cleared.region, undefined)
  t.deepEqual(cleared.tags, [])
  const saved = JSON.parse(await readFile(file, 'utf8'))
  t.false('region' in saved)
  t.false('tags' in saved)

  const unset = await loadNodeConfig({ data: join(dir.path, 'plain'), name: 'plain' }, {})
  t.is(unset.region, undefined)
  t.deepEqual(unset.tags, [])

  const bad: Array<[Record<string, unknown>, NodeJS.ProcessEnv, RegExp]> = [
    [{ region: 'eu west' }, {}, /^region must be 1-32 of a-z, 0-9 and "-"$/],
    [{ region: 'r'.repeat(33) }, {}, /^region must be 1-32/],
    [{ region: 'région' }, {}, /^region must be 1-32/],
    [{}, { CIDCAST_REGION: 'eu_west' }, /^region must be 1-32/],
    [{ tags: 'gpu,no spaces' }, {}, /^tags\[1\] must be 1-32 of a-z, 0-9 and "-"$/],
    [{ tags: 'a,b,c,d,e,f,g,h,i' }, {}, /^tags must have at most 8 items$/],
    [{}, { CIDCAST_TAGS: 'x'.repeat(40) }, /^tags\[0\] must be 1-32/]
  ]
  for (const [flags, env, message] of bad) {
    await t.throwsAsync(loadNodeConfig({ data: join(dir.path, 'bad'), name: 'bad', ...flags }, env), { name: 'InvalidConfigError', message }, JSON.stringify({ flags, env }).slice(0, 80))
  }
  // from the file: the file and the key are named
  await writeFile(file, JSON.stringify({ name: 'edge', tags: ['ok', 7] }))
  await t.throwsAsync(loadNodeConfig({ data }, {}), { name: 'InvalidConfigError', message: `${file}: tags must be a list of strings` })
})
