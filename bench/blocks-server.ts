import { FsBlockstore } from 'blockstore-fs'
import Koa from 'koa'
import { createContentReader, createVerifiedBlockstore } from '../core/ipfs/index.ts'
import { silentLogger } from '../core/logger.ts'
import { errors } from '../gateway/middleware/errors.ts'
import { ipfsRoutes } from '../gateway/routes/ipfs.ts'
import { announceReady } from '../test/helpers/child.ts'

/**
 * A bench child for rows v1-v1b: the main server's `/ipfs` routes and block reader over a blockstore-fs folder, with
 * the verified blockstore hashing on first read or not: `node --import=tsx bench/blocks-server.ts <blocksDir>
 * <verify 1|0> <cacheBytes>`. Announces `{ url, pid }`; ends on SIGTERM.
 */

const [blocksDir, verify, cacheBytes] = process.argv.slice(2)
if (blocksDir == null || verify == null || cacheBytes == null) throw new Error('usage: blocks-server.ts <blocksDir> <verify 1|0> <cacheBytes>')
const logger = silentLogger()
const fs = new FsBlockstore(blocksDir)
await fs.open()
const blockstore = createVerifiedBlockstore({ store: fs, logger }, { verify: verify === '1' })
const reader = createContentReader({ blockstore, logger }, { cacheBytes: Number(cacheBytes) })
const app = new Koa()
app.use(errors(logger))
const router = ipfsRoutes({ blockstore, logger, reader })
app.use(router.routes())
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address()
  if (address == null || typeof address === 'string') throw new Error('no address')
  announceReady({ url: `http://127.0.0.1:${address.port}`, pid: process.pid })
})
process.on('SIGTERM', () => { server.close(() => { process.exit(0) }) })
