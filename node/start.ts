import { mkdir, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { resolveFfmpeg } from '../core/media/index.ts'
import { startNode } from './cdn-node.ts'
import { saveCredential } from './credentials.ts'
import { SAMPLE_NAME, ensureSampleVideo } from './sample.ts'
import { startServer } from './server.ts'
import type { RunningNode } from './cdn-node.ts'

/** How long `npm start` waits for the node's first registration before printing without its DNS name. */
const REGISTRATION_WAIT_MS = 5000
/** How long it waits for a new sample's poster (a frame taken in the background) before printing anyway. */
const ARTWORK_WAIT_MS = 10_000

/**
 * The node listens next to the main server (port + 1) and on any free libp2p port. Both are defaults of this run, not
 * settings: a taken port moves to a free one (CIDCAST_NODE_LISTEN and the like still set them, and then must be free).
 */
async function startLocalNode (data: string, serverUrl: string): Promise<RunningNode> {
  const port = Number(new URL(serverUrl).port)
  return await startNode({
    dataDir: join(data, 'node'),
    swarmKeyFile: join(data, 'server', 'swarm.key'),
    server: serverUrl,
    mode: 'shared',
    defaults: {
      listen: `127.0.0.1:${port > 0 && port < 65535 ? port + 1 : 0}`,
      p2pListen: ['/ip4/127.0.0.1/tcp/0']
    }
  })
}

/**
 * `npm start`: the whole system on embedded defaults, data in ./.cidcast: the main server, one CDN node in its
 * private network, and a sample video when the library is empty. The URL printed first plays through the node.
 */
async function start (): Promise<void> {
  const data = resolve(process.env.CIDCAST_DATA ?? '.cidcast')
  const server = await startServer({ dataDir: join(data, 'server') })
  let node: RunningNode | undefined
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    const stopNode = node?.stop() ?? Promise.resolve()
    stopNode.catch(() => {}).then(async () => { await server.stop() }).then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    node = await startLocalNode(data, server.url)
  } catch (err) {
    await server.stop()
    throw err
  }
  const items = await server.library.list({ limit: 1 })
  let first = items[0]
  const samples = join(data, 'samples')
  const hadSample = (await stat(join(samples, SAMPLE_NAME)).catch(() => undefined))?.isFile() === true
  if (first == null || hadSample) {
    await mkdir(samples, { recursive: true })
    if (!hadSample) process.stdout.write('making a sample video with ffmpeg...\n')
    const sample = await server.addMedia(await ensureSampleVideo((await resolveFfmpeg()).ffmpeg, samples))
    // a sample added before it had its NFO was taken for an extra by its name: the NFO now says what it is
    if (sample.kind === 'extra') await server.metadata.identify(sample.id)
    first ??= sample
  }
  const [registration] = await Promise.all([
    Promise.race([node.firstAttempt(), delay(REGISTRATION_WAIT_MS, undefined, { ref: false })]),
    // a new library's first look shows the sample with its poster (a frame taken in the background)
    items.length === 0 ? Promise.race([server.metadata.idle(), delay(ARTWORK_WAIT_MS, undefined, { ref: false })]) : undefined
  ])
  // the person who ran npm start is its admin: the CLI on this machine is logged in as them from the first start
  let cli = ''
  if (server.firstAdmin != null) {
    const issued = await server.accounts.addApiToken(server.firstAdmin.user.id, `cli on this machine - npm start ${new Date().toISOString().slice(0, 10)}`)
    const path = await saveCredential(server.url, { token: issued.token, user: server.firstAdmin.user.name, savedAt: new Date().toISOString() })
    cli = `  CLI:      logged in as ${server.firstAdmin.user.name} (token in ${path})`
  }
  const dns = registration?.dnsName != null ? `  (DNS name ${registration.dnsName})` : '  (registering with the main server...)'
  process.stdout.write([
    '',
    `cidcast main server: ${server.url}/`,
    `cidcast CDN node:    ${node.url}/${dns}`,
    `  play:     ${node.url}/#/media/${first.id}   (through the CDN node)`,
    // media are not public: a player outside the web UI takes a signed URL (`cidcast play`)
    `  playlist: npx cidcast play ${first.id} --node ${node.name}   (a signed URL for mpv, VLC or any HLS player)`,
    `  direct:   ${server.url}/#/media/${first.id}   (the main server itself)`,
    `  API:      ${server.url}/api/v1/media`,
    `  data:     ${data}`,
    ...(server.firstAdmin != null ? [`  admin:    user ${server.firstAdmin.user.name}, password ${server.firstAdmin.password}   (shown once: keep it)`, cli] : ['  log in:   as the admin printed at the first start (new password: cidcast user passwd admin)']),
    'Ctrl-C stops both.',
    ''
  ].join('\n'))
}

start().catch(err => {
  process.stderr.write(`error: ${(err as Error).name}: ${(err as Error).message}\n`)
  process.exit(1)
})
