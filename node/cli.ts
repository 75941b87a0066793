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
import { DEFAULT_DATA, DEFAULT_SERVER_URL } from '../core/config/index.ts'
import { saveCredential, tokenFor } from './credentials.ts'
import { initDataFolder } from './init.ts'
import { fail, logFormatOption, logLevelOption, positiveInt, stopOnSignals } from './command-line.ts'
import { nodeCommand } from './node-command.ts'
import type { MediaQuery } from '../client/api-client.ts'
import type { LogFormat } from '../core/logger.ts'
import type { StartServerOptions } from './server.ts'

const DEFAULT_SERVER = process.env.CIDCAST_SERVER ?? DEFAULT_SERVER_URL

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

  nodeCommand(program.command('node'))

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
