import { join } from 'node:path'
import anyTest from 'ava'
import { startNode } from '../../node/cdn-node.ts'
import { startServer } from '../../node/server.ts'
import { launchBrowser } from '../helpers/browser.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { RunningNode } from '../../node/cdn-node.ts'
import type { RunningServer } from '../../node/server.ts'
import type { TestFn } from 'ava'

const test = anyTest as TestFn<{ server: RunningServer, node: RunningNode, remove: () => Promise<void> }>

test.before(async t => {
  const dir = await tempDir()
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent' })
  const node = await startNode({
    dataDir: join(dir.path, 'node'),
    swarmKeyFile: join(dir.path, 'server', 'swarm.key'),
    server: server.url,
    name: 'Attic <script>box</script>',
    listen: '127.0.0.1:0',
    p2pListen: ['/ip4/127.0.0.1/tcp/0'],
    logLevel: 'silent'
  })
  t.context = { server, node, remove: dir.remove }
})

test.after.always(async t => {
  await t.context.node?.stop()
  await t.context.server?.stop()
  await t.context.remove?.()
})

test('the nodes page lists every node with its state and space, names shown as text', async t => {
  const { server } = t.context
  await waitFor(async () => {
    const list = await (await fetch(`${server.url}/api/v1/nodes`)).json() as { items: Array<{ state: string }> }
    return list.items.some(n => n.state === 'online')
  }, 30_000, 'the node to register')
  const { browser, close } = await launchBrowser()
  try {
    const page = await browser.newPage()
    await page.goto(`${server.url}/#/nodes`)
    const row = page.locator('tr.node-row')
    await row.first().waitFor({ timeout: 15_000 })
    t.is(await row.count(), 1)
    t.is(await row.getAttribute('data-state'), 'online')
    const text = await row.innerText()
    t.regex(text, /Attic <script>box<\/script>/)
    t.regex(text, /attic-script-box-script\./)
    t.regex(text, /free of/)
    t.is(await page.locator('tr.node-row script').count(), 0)
  } finally {
    await close()
  }
})
