import { setFlagsFromString } from 'node:v8'
import { Command, InvalidArgumentError, Option } from 'commander'
import { createApiClient, setTokenResolver } from '../client/api-client.ts'
import { accountCommands } from '../client/commands/accounts.ts'
import { addCommand } from '../client/commands/add.ts'
import { collect } from '../client/commands/options.ts'
import { rotateKeysCommand } from '../client/commands/keys.ts'
import { metaCommand } from '../client/commands/meta.ts'
import { invitationsCommand, inviteNodeCommand, nodesCommand, parseDuration, revokeNodeCommand, uninviteCommand } from '../client/commands/nodes.ts'
import { pinCommand, statusCommand } from '../client/commands/pin.ts'
import { pinVerifyCommand } from '../client/commands/pin-verify.ts'
import { playCommand } from '../client/commands/play.ts'
import { MEDIA_KINDS, MEDIA_SORTS, SORT_ORDERS } from '../core/media-query.ts'
import { byteSize, DEFAULT_DATA, DEFAULT_SERVER_URL, LOG_FORMATS, LOG_LEVELS } from '../core/config/index.ts'
import { saveCredential, tokenFor } from './credentials.ts'
import { initDataFolder } from './init.ts'
import type { MediaQuery } from '../client/api-client.ts'
import type { LogFormat } from '../core/logger.ts'
import type { StartServerOptions } from './server.ts'

const DEFAULT_SERVER = process.env.CIDCAST_SERVER ?? DEFAULT_SERVER_URL

/** `--log-level`, the same for both daemons. */
function logLevelOption (): Option {
  return new Option('--log-level <level>', 'log level (env CIDCAST_LOG_LEVEL, default info)').choices([...LOG_LEVELS])
}

/** `--log-format`, the same for both daemons. */
function logFormatOption (): Option {
  return new Option('--log-format <format>', 'log lines: pretty (readable), json, or auto: pretty on a terminal, else json (env CIDCAST_LOG_FORMAT, default auto)').choices(LOG_FORMATS)
}
/** V8's Wasm tier-up budget for a CDN node (V8's default is 13,000,000): see the `node` verb. */
const NODE_WASM_TIERING_BUDGET = 2_000_000_000

/** Prints one readable line for an error (never a stack trace) and sets a failing exit code. */
function fail (err: unknown): never {
  const e = err as { name?: string, code?: string, message?: string }
  const name = typeof e?.code === 'string' && /Error$/.test(e.code) ? e.code : (e?.name ?? 'Error')
  process.stderr.write(`error: ${name}: ${(e?.message ?? String(err)).split('\n')[0]}\n`)
  process.exit(1)
}

/** A size such as 500MB or 10GiB, or a number of bytes (the same parser as the config's). */
function size (value: string): number {
  try {
    return byteSize(value, 'size')
  } catch {
    throw new InvalidArgumentError('must be a number of bytes or a size such as 500MB or 10GiB')
  }
}

function positiveInt (value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number >= 1')
  return n
}

/** Runs `stop` on SIGINT/SIGTERM once, then exits. */
function stopOnSignals (stop: () => Promise<void>): void {
  let stopping = false
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) return
    stopping = true
    process.stderr.write(`${signal}: stopping\n`)
    stop().then(() => process.exit(0), err => fail(err))
  }
  process.once('SIGINT', handler)
  process.once('SIGTERM', handler)
}

/** The `cidcast` command line. */
export function buildCli (): Command {
  const program = new Command('cidcast')
    .description('A content-addressed media server: on-demand HLS stored in Helia, served over a private IPFS network')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => { write(text) } })

  program.command('init')
    .description('create a data folder with a config file, a new private-network key (swarm.key) and the first admin (its password is printed once)')
    .option('--data <dir>', 'data folder', process.env.CIDCAST_DATA ?? DEFAULT_DATA)
    .action(async (opts: { data: string }) => {
      const { swarmKeyPath } = await initDataFolder(opts.data)
      process.stdout.write(`initialized ${opts.data}\nswarm key: ${swarmKeyPath} (copy it to every CDN node; keep it secret)\n`)
      // loaded here: the catalog brings TypeORM
      const { ensureFirstAdmin } = await import('./first-admin.ts')
      const made = await ensureFirstAdmin(opts.data)
      if (made != null) process.stdout.write(`admin user: ${made.user.name}\nadmin password: ${made.password}\n`)
    })

  program.command('server')
    .description('run the main server: library, transcoder, Helia peer and HTTP')
    .option('--data <dir>', 'data folder (env CIDCAST_DATA)')
    .option('--database <url>', 'the catalog\'s database: sqlite:<path> or postgres://user:password@host:port/db (env CIDCAST_DATABASE, default sqlite:<data>/catalog.sqlite)')
    .option('--listen <host:port>', 'HTTP address (env CIDCAST_LISTEN, default 127.0.0.1:8080)')
    .option('--p2p-listen <multiaddr>', 'libp2p address, repeatable (env CIDCAST_P2P_LISTEN, default /ip4/127.0.0.1/tcp/4001)', collect)
    .option('--library <dir>', 'folder watched for new media, repeatable (env CIDCAST_LIBRARY)', collect)
    .option('--max-sessions <n>', 'most ffmpeg sessions at once (env CIDCAST_MAX_SESSIONS, default: cores)', positiveInt)
    .option('--dns-listen <host:port>', 'authoritative DNS, UDP and TCP (env CIDCAST_DNS_LISTEN, default 127.0.0.1:5353)')
    .option('--dns-zone <name>', 'DNS zone of node names (env CIDCAST_DNS_ZONE, default cidcast.internal)')
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action(async (opts: { data?: string, database?: string, listen?: string, p2pListen?: string[], library?: string[], maxSessions?: number, dnsListen?: string, dnsZone?: string, logLevel?: string, logFormat?: LogFormat }) => {
      const options: StartServerOptions = { dataDir: opts.data, database: opts.database, listen: opts.listen, p2pListen: opts.p2pListen, library: opts.library, maxSessions: opts.maxSessions, dnsListen: opts.dnsListen, dnsZone: opts.dnsZone, logLevel: opts.logLevel, logFormat: opts.logFormat }
      // loaded here: Helia, TypeORM and ffmpeg glue cost seconds that client verbs should not pay
      const { startServer } = await import('./server.ts')
      const server = await startServer(options)
      stopOnSignals(server.stop)
      process.stdout.write(`${server.url}\n`)
      if (server.firstAdmin != null) process.stdout.write(`admin user: ${server.firstAdmin.user.name}\nadmin password: ${server.firstAdmin.password}\n`)
    })

  const db = program.command('db')
    .description('the main server\'s catalog database: apply its migrations, or copy a SQLite catalog to PostgreSQL')
  db.command('migrate')
    .description('apply the catalog\'s pending migrations and print each (the server also applies them at start)')
    .option('--database <url>', 'sqlite:<path> or postgres://user:password@host:port/db (env CIDCAST_DATABASE, default: the data folder\'s)')
    .option('--data <dir>', 'data folder (env CIDCAST_DATA)')
    .action(async (opts: { database?: string, data?: string }) => {
      // loaded here: the catalog brings TypeORM
      const { dbMigrate } = await import('./db.ts')
      await dbMigrate(opts)
    })
  db.command('copy')
    .description('copy the data folder\'s SQLite catalog (its server stopped) to an empty PostgreSQL database, checking every table\'s rows; then set database to that URL')
    .requiredOption('--to <url>', 'the empty PostgreSQL database: postgres://user:password@host:port/db')
    .option('--data <dir>', 'data folder (env CIDCAST_DATA)')
    .action(async (opts: { to: string, data?: string }) => {
      const { dbCopy } = await import('./db.ts')
      await dbCopy(opts)
    })

  program.command('node')
    .description('run a CDN node: a Helia peer in the main server\'s private network with a local-first gateway (settings are remembered in <data>/node.json)')
    .option('--data <dir>', 'data folder (env CIDCAST_NODE_DATA, default ./.cidcast-node)')
    .option('--name <name>', 'node name; the main server turns it into the node\'s DNS label (default: the host name)')
    .addOption(new Option('--mode <mode>', 'shared: serves anyone and is listed; local: loopback only, serves and is listed to its owner alone (default shared)').choices(['shared', 'local']))
    .option('--owner <user>', 'the main server\'s user who owns this node: a local node serves them alone (env CIDCAST_NODE_OWNER)')
    .option('--region <name>', 'where this node is, 1-32 of a-z, 0-9 and -: automatic placement spreads copies over regions; \'\' clears it (env CIDCAST_REGION)')
    .option('--tags <a,b,c>', 'free labels of this node, at most 8, each as a region; \'\' clears them (env CIDCAST_TAGS)')
    .option('--server <url>', 'the main server\'s HTTP URL, or its multiaddr ending in /p2p/<id> (env CIDCAST_SERVER, default http://127.0.0.1:8080)')
    .option('--swarm-key <file>', 'the main server\'s swarm.key, copied into the data folder (needed once)')
    .option('--listen <host:port>', 'gateway address (default 0.0.0.0:8081; 127.0.0.1:8081 in local mode)')
    .option('--p2p-listen <multiaddr>', 'libp2p address, repeatable (default /ip4/0.0.0.0/tcp/4002; loopback in local mode)', collect)
    .option('--url <url>', 'the URL viewers reach this node at (default: from --listen)')
    .addOption(new Option('--fallback <how>', 'on a miss: origin (proxy, verified), redirect, or peer (bitswap first) (default origin)').choices(['origin', 'redirect', 'peer']))
    .addOption(new Option('--pin-from <where>', 'pins fetch from: any (holders\' HTTP gateways, then bitswap) or p2p (bitswap only, inside the private network) (default any)').choices(['any', 'p2p']))
    .option('--quota <size>', 'most bytes of blocks kept, e.g. 50GiB (default: the free space of the data folder\'s disk)', size)
    .option('--cache-size <size>', 'most bytes kept from streams served by fallback, within the quota, e.g. 10GiB (env CIDCAST_CACHE_SIZE, default: half the quota)', size)
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action(async (opts: { data?: string, name?: string, mode?: 'shared' | 'local', owner?: string, region?: string, tags?: string, server?: string, swarmKey?: string, listen?: string, p2pListen?: string[], url?: string, fallback?: 'origin' | 'redirect' | 'peer', pinFrom?: 'any' | 'p2p', quota?: number, cacheSize?: number, logLevel?: string, logFormat?: LogFormat }) => {
      // Idle RSS: V8 recompiles hot WebAssembly with TurboFan on a worker thread, and glibc keeps that compile's
      // ~12 MB zone in the thread's arena for good. Here the Wasm is undici's HTTP parser behind fetch(): the node's
      // first few calls to the main server were enough. A larger budget keeps it on Liftoff until it is really hot.
      setFlagsFromString(`--wasm-tiering-budget=${NODE_WASM_TIERING_BUDGET}`)
      // loaded here, as for `server`: Helia and libp2p cost what client verbs should not pay
      const { startNode } = await import('./cdn-node.ts')
      let announced = false
      const onStatus = (status: { state: string, dnsName?: string }): void => {
        if (status.state !== 'registered' || announced) return
        announced = true
        process.stdout.write(`dns: ${status.dnsName ?? ''}\n`)
      }
      const node = await startNode({ dataDir: opts.data, name: opts.name, mode: opts.mode, owner: opts.owner, region: opts.region, tags: opts.tags, server: opts.server, swarmKeyFile: opts.swarmKey, listen: opts.listen, p2pListen: opts.p2pListen, url: opts.url, fallback: opts.fallback, pinFrom: opts.pinFrom, quotaBytes: opts.quota, cacheBytes: opts.cacheSize, logLevel: opts.logLevel, logFormat: opts.logFormat, onStatus })
      stopOnSignals(node.stop)
      process.stdout.write(`${node.url}\n`)
      const first = await node.firstAttempt()
      if (first.state === 'registered' || first.error == null) return
      // the main server is up but will not have this node: retrying cannot help
      if (first.error.name === 'PrivateNetworkRefusedError' || first.error.name === 'NodeRevokedError' || first.error.name === 'ControlVersionError') {
        await node.stop()
        fail(first.error)
      }
      process.stderr.write(`warning: not registered yet (${first.error.name}: ${first.error.message.split('\n')[0]}); serving what this node holds and retrying\n`)
    })

  program.command('add')
    .description('add media files or folders to the library of a running server')
    .argument('<path...>', 'files or folders (folders are walked for media files)')
    .option('--server <url>', 'main server URL (env CIDCAST_SERVER)', DEFAULT_SERVER)
    .action(async (paths: string[], opts: { server: string }) => {
      const failed = await addCommand(paths, { server: opts.server })
      if (failed > 0) process.exitCode = 1
    })

  program.command('ls')
    .description('list the media of a running server (all of them, newest first unless sorted)')
    .option('--server <url>', 'main server URL (env CIDCAST_SERVER)', DEFAULT_SERVER)
    .addOption(new Option('--sort <key>', 'title (natural order, "The" ignored), year or added').choices(MEDIA_SORTS))
    .addOption(new Option('--order <order>', 'asc or desc (default: asc for title, desc otherwise)').choices(SORT_ORDERS))
    .addOption(new Option('--kind <kind>', 'only movies, episodes, extras, or other (what no movie grid or series page shows)').choices(MEDIA_KINDS))
    .action(async (opts: { server: string } & MediaQuery) => {
      for (const m of await createApiClient(opts.server).listMedia({ sort: opts.sort, order: opts.order, kind: opts.kind })) {
        const done = m.renditions.filter(r => r.state === 'complete').map(r => r.profile)
        process.stdout.write(`${m.id}\t${m.durationSeconds.toFixed(1)}s\t${done.length > 0 ? done.join(',') : '-'}\t${JSON.stringify(m.title)}\n`)
      }
    })

  const nodes = program.command('nodes')
    .description('list the CDN nodes of a running server: name, DNS name, state, mode, owner, free space, URL')
    .option('--server <url>', 'main server URL (env CIDCAST_SERVER)', DEFAULT_SERVER)
    .option('--all', 'also local and revoked nodes (only from the server\'s machine)')
    .action(async (opts: { server: string, all?: boolean }) => {
      await nodesCommand({ server: opts.server, all: opts.all })
    })
  nodes.command('revoke')
    .description('ban a node\'s peer ID: its connections are refused from now on (only from the server\'s machine)')
    .argument('<name>', 'the node\'s label, name or peer ID')
    .option('--server <url>', 'main server URL (env CIDCAST_SERVER)')
    .action(async (name: string, opts: { server?: string }) => {
      await revokeNodeCommand(name, { server: opts.server ?? (nodes.opts<{ server: string }>().server) })
    })

  nodes.command('invite')
    .description('invite a CDN node: prints one join token for `cidcast-node join TOKEN` (spent by the first node that joins; it holds the network\'s swarm key)')
    .option('--name <name>', 'the name the node takes (default: its host name)')
    .addOption(new Option('--mode <mode>', 'shared: serves anyone; local: serves its owner alone (default shared)').choices(['shared', 'local']))
    .option('--owner <user>', 'the user who owns the node (needed for a local node)')
    .option('--expires <duration>', 'how long the token can be used: 30m, 24h, 7d (default 24h)', text => {
      const seconds = parseDuration(text)
      if (seconds == null) throw new InvalidArgumentError('must be a duration such as 30m, 24h or 7d')
      return seconds
    })
    .option('--url <url>', 'the main server\'s URL as the node will reach it (default: --server)')
    .option('--server <url>', 'main server URL (env CIDCAST_SERVER)')
    .action(async (opts: { name?: string, mode?: 'shared' | 'local', owner?: string, expires?: number, url?: string, server?: string }) => {
      const server = opts.server ?? (nodes.opts<{ server: string }>().server)
      await inviteNodeCommand({ server, name: opts.name, mode: opts.mode, owner: opts.owner, expiresInSeconds: opts.expires, url: opts.url ?? server })
    })
  nodes.command('invitations')
    .description('list node invitations: id, state (open, spent, expired, revoked), mode, name, owner, expiry, the peer ID that joined')
    .option('--server <url>', 'main server URL (env CIDCAST_SERVER)')
    .action(async (opts: { server?: string }) => {
      await invitationsCommand({ server: opts.server ?? (nodes.opts<{ server: string }>().server) })
    })
  nodes.command('uninvite')
    .description('revoke a node invitation that is not spent yet')
    .argument('<id>', 'the invitation\'s id (from `cidcast nodes invitations`)')
    .option('--server <url>', 'main server URL (env CIDCAST_SERVER)')
    .action(async (id: string, opts: { server?: string }) => {
      await uninviteCommand(id, { server: opts.server ?? (nodes.opts<{ server: string }>().server) })
    })

  for (const command of accountCommands(DEFAULT_SERVER, { save: saveCredential })) program.addCommand(command)
  const keys = program.command('keys')
    .description('the main server\'s stream signing keys, which sign play URLs and which every CDN node checks them with')
  keys.command('rotate')
    .description('make a new stream signing key: tokens of the old one keep playing until they expire; nodes get the new key at once, or with their next heartbeat (only from the server\'s machine)')
    .option('--server <url>', 'main server URL (env CIDCAST_SERVER)', DEFAULT_SERVER)
    .action(async (opts: { server: string }) => {
      await rotateKeysCommand({ server: opts.server })
    })

  program.addCommand(metaCommand(DEFAULT_SERVER))
  program.addCommand(pinCommand(DEFAULT_SERVER).addCommand(pinVerifyCommand()))
  program.addCommand(statusCommand(DEFAULT_SERVER))
  program.addCommand(playCommand(DEFAULT_SERVER))

  return program
}

/** Entry point: parse argv, turn any error into one line and an exit code. */
export async function main (argv = process.argv): Promise<void> {
  // client verbs carry CIDCAST_TOKEN, else the token `cidcast login` saved for their server
  setTokenResolver(async origin => await tokenFor(origin))
  try {
    await buildCli().parseAsync(argv)
  } catch (err) {
    fail(err)
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
