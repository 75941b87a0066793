import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { FsBlockstore } from 'blockstore-fs'
import { createHeliaLight } from 'helia'
import Koa from 'koa'
import { IMPORT_OPTIONS } from '../../core/ipfs/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { errors } from '../../gateway/middleware/errors.ts'
import { ipfsRoutes } from '../../gateway/routes/ipfs.ts'
import { bytesOf } from '../helpers/bytes.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { IpfsRouteInit } from '../../gateway/routes/ipfs.ts'
import type { Helia } from '@helia/interface'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import type { CID } from 'multiformats/cid'

export interface GatewayFixture {
  url: string
  helia: Helia
  blockstore: FsBlockstore
  blocksPath: string
  files: {
    big: { cid: CID, bytes: Buffer }
    json: { cid: CID, bytes: Buffer }
  }
  /** `media/`: index.m3u8, init.mp4, seg 1.m4s, seg2.ts, notes.json, big.bin, sub/deep.txt */
  media: { cid: CID, sub: CID, segment: Buffer, big: Buffer }
  /** `site/`: index.html, about.txt */
  site: { cid: CID, index: Buffer }
  /** a HAMT-sharded directory of 40 small files `f00.txt`...`f39.txt` */
  sharded: { cid: CID }
  stop: () => Promise<void>
}

async function importDirectory (helia: Helia, name: string, entries: Array<[string, Uint8Array]>, extra: Record<string, unknown> = {}): Promise<CID> {
  const fs = unixfs(helia)
  let root: CID | undefined
  for await (const result of fs.addAll(entries.map(([path, content]) => ({ path: `${name}/${path}`, content })), { ...IMPORT_OPTIONS, ...extra })) {
    if (result.path === name) root = result.cid
  }
  if (root == null) throw new Error(`no root for ${name}`)
  return root
}

/** A Helia light node on blockstore-fs with sample content, behind the /ipfs routes on 127.0.0.1. */
export async function startGateway (init: IpfsRouteInit = {}): Promise<GatewayFixture> {
  const dir = await tempDir('cidcast-ipfs-')
  const blocksPath = join(dir.path, 'blocks')
  const blockstore = new FsBlockstore(blocksPath)
  await blockstore.open()
  const helia = createHeliaLight({ blockstore })
  await helia.start()
  const fs = unixfs(helia)

  const bigBytes = bytesOf(3 * 1024 * 1024 + 123, 'big')
  const big = await fs.addBytes(bigBytes, IMPORT_OPTIONS)
  const jsonBytes = Buffer.from('{"hello":"world"}\n')
  const json = await fs.addBytes(jsonBytes, IMPORT_OPTIONS)

  const segment = bytesOf(300_000, 'segment')
  const mediaBig = bytesOf(2 * 1024 * 1024 + 5, 'media-big')
  const media = await importDirectory(helia, 'media', [
    ['index.m3u8', Buffer.from('#EXTM3U\n#EXT-X-VERSION:7\n')],
    ['init.mp4', bytesOf(1000, 'init')],
    ['seg 1.m4s', segment],
    ['seg2.ts', bytesOf(2000, 'ts')],
    ['notes.json', jsonBytes],
    ['big.bin', mediaBig],
    ['sub/deep.txt', Buffer.from('deep\n')]
  ])
  const sub = (await fs.stat(media, { path: 'sub' })).cid
  const indexHtml = Buffer.from('<!DOCTYPE html><title>site</title><p>hello</p>\n')
  const site = await importDirectory(helia, 'site', [['index.html', indexHtml], ['about.txt', Buffer.from('about\n')]])
  const shardedEntries: Array<[string, Uint8Array]> = Array.from({ length: 40 }, (_, i) => [`f${String(i).padStart(2, '0')}.txt`, Buffer.from(`file ${i}\n`)])
  const sharded = await importDirectory(helia, 'sharded', shardedEntries, { shardSplitThresholdBytes: 1 })

  const app = new Koa()
  const router = ipfsRoutes({ blockstore: helia.blockstore, logger: silentLogger() }, init)
  app.use(errors(silentLogger()))
  app.use(router.routes())
  app.use(router.allowedMethods())
  const server: Server = await new Promise(resolve => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    helia,
    blockstore,
    blocksPath,
    files: { big: { cid: big, bytes: bigBytes }, json: { cid: json, bytes: jsonBytes } },
    media: { cid: media, sub, segment, big: mediaBig },
    site: { cid: site, index: indexHtml },
    sharded: { cid: sharded },
    stop: async () => {
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
      await helia.stop()
      await dir.remove()
    }
  }
}

/** A GET with a raw, unnormalised path (fetch would resolve `..` before sending). */
export async function rawGet (url: string, path: string): Promise<{ status: number, body: string }> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method: 'GET' }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}
