/**
 * The test tiers: every test file belongs to exactly one (test/tiers.test.ts checks it).
 * - unit (`npm run test:unit`): no daemon, no browser, no libp2p peers and no network beyond servers the test
 *   starts in its own process on 127.0.0.1 (a provider stub, a route on an ephemeral port); real sqlite files
 *   and ffmpeg on short fixtures are allowed while the tier stays under a minute on two cores.
 * - integration (`npm run test:integration`): daemons and CLI child processes, Helia/libp2p peers, Chromium,
 *   DNS over the wire, the 500 MiB private-network transfer, and every test on PostgreSQL (`*.pg.test.ts`: a real
 *   server per test process, test/helpers/postgres.ts). A `<name>.pg.test.ts` runs `<name>.test.ts` again on
 *   PostgreSQL (test/helpers/database.ts); only the files whose code meets the database got one: the catalog and its
 *   repositories, accounts, metadata, and a server end to end. Lock waits (busy.test.ts) and the full disk
 *   (disk-full.test.ts) are SQLite's own and stay SQLite-only.
 * `npm test` runs both (ava.config.js takes every test file).
 */

/** Globs relative to the project root. */
export const UNIT = [
  'test/core/access/!(*.pg).test.ts',
  'test/core/catalog/!(*.pg).test.ts',
  'test/core/concurrency.test.ts',
  'test/core/config/*.test.ts',
  'test/core/distribution/*.test.ts',
  'test/core/control/access-messages.test.ts',
  'test/core/control/served-messages.test.ts',
  'test/core/control/labels.test.ts',
  'test/core/disk-space.test.ts',
  'test/core/dns/zone.test.ts',
  'test/core/edge/demand-meter.test.ts',
  'test/core/edge/edge-cache.test.ts',
  'test/core/edge/gateway-blocks.test.ts',
  'test/core/edge/held-media.test.ts',
  'test/core/edge/miss-resolver.test.ts',
  'test/core/hls/*.test.ts',
  'test/core/ipfs/*.test.ts',
  'test/core/log-pretty.test.ts',
  'test/core/media/ffmpeg-binary.test.ts',
  'test/core/media/probe.test.ts',
  'test/core/media/profiles.test.ts',
  'test/core/media/session.test.ts',
  'test/core/metadata/!(*.pg).test.ts',
  'test/core/net/data-lock.test.ts',
  'test/core/net/xsalsa20-stream.test.ts',
  'test/core/routing/ipns-records.test.ts',
  'test/core/routing/ipns-store.test.ts',
  'test/core/routing/manifest.test.ts',
  'test/core/routing/publisher.test.ts',
  'test/core/version.test.ts',
  'test/gateway/error-status.test.ts',
  'test/core/access/accounts.test.ts',
  'test/gateway/play.test.ts',
  'test/gateway/playlist-token.test.ts',
  'test/gateway/routing.test.ts',
  'test/gateway/stream-access.test.ts',
  'test/lint/*.test.ts',
  'test/node/sea/asset-cache.test.ts',
  'test/node/service.test.ts',
  'test/tiers.test.ts'
]

/** Globs relative to the project root. */
export const INTEGRATION = [
  'test/**/*.pg.test.ts',
  'test/bench/simulate.test.ts',
  'test/client/*.test.ts',
  'test/core/control/control.test.ts',
  'test/core/control/replication-messages.test.ts',
  'test/core/dns/resolvers.test.ts',
  'test/core/dns/server.test.ts',
  'test/core/media/poster-frame.test.ts',
  'test/core/media/transcoder.test.ts',
  'test/core/media/transcoder-leases.test.ts',
  'test/core/net/peer.test.ts',
  'test/core/net/protector.test.ts',
  'test/core/replication/*.test.ts',
  'test/core/routing/main-server.test.ts',
  'test/e2e/*.test.ts',
  'test/faults/*.test.ts',
  'test/cluster/*.test.ts',
  'test/gateway/catalog-busy.test.ts',
  'test/hostile/*.test.ts',
  'test/gateway/ipfs.test.ts',
  'test/gateway/route-census.test.ts',
  'test/gateway/library-folders.test.ts',
  'test/gateway/accounts-http.test.ts',
  'test/gateway/media-list.test.ts',
  'test/gateway/metadata.test.ts',
  'test/gateway/poster-frames.test.ts',
  'test/node/sea/executable.test.ts',
  'test/node/secrets-in-logs.test.ts',
  'test/node/api-proxy-access.test.ts',
  'test/node/cdn-node-cli.test.ts',
  'test/node/join.test.ts',
  'test/node/cdn-node-disk-full.test.ts',
  'test/node/cdn-node.test.ts',
  'test/node/node-cache.test.ts',
  'test/node/cli-imports.test.ts',
  'test/node/cli.test.ts',
  'test/node/daemon.test.ts',
  'test/node/node-region.test.ts',
  'test/node/node-restart.test.ts',
  'test/node/damaged-blocks.test.ts',
  'test/node/demand.test.ts',
  'test/node/distribution.test.ts',
  'test/node/disk-full.test.ts',
  'test/node/held-media.test.ts',
  'test/node/local-owner.test.ts',
  'test/node/logs.test.ts',
  'test/node/node-ipns.test.ts',
  'test/node/ports.test.ts',
  'test/node/replication-orders.test.ts',
  'test/node/replication-upkeep.test.ts',
  'test/node/replication.test.ts',
  'test/node/server.test.ts',
  'test/node/stream-access.test.ts'
]
