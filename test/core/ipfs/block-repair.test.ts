import test from 'ava'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { createBlockRepairer } from '../../../core/ipfs/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import type { Blocks } from '@helia/interface'

/*
 * core/ipfs/block-repair.ts over a Helia with nobody to ask (no block broker): how failures are remembered. Repairs
 * that find a copy are shown with real peers in test/node/damaged-blocks.test.ts and replication-upkeep.test.ts.
 */

test('a request does not wait again for a block nobody had a minute ago; the scrub and pin verify still try', async t => {
  const helia = createHeliaLight()
  await helia.start()
  t.teardown(async () => { await helia.stop() })
  let asked = 0
  const blockstore: Pick<Blocks, 'get'> = {
    get: (cid, options) => { asked++; return helia.blockstore.get(cid, options) }
  }
  const repairer = createBlockRepairer({ blockstore, logger: silentLogger() }, { timeoutMs: 2000 })
  t.teardown(() => { repairer.stop() })
  const lost = CID.createV1(raw.code, await sha256.digest(Buffer.from('a block nobody holds')))

  await t.throwsAsync(repairer.repair(lost))
  t.is(asked, 1)
  await t.throwsAsync(repairer.repair(lost, { recentFailureMs: 60_000 }), { name: 'TimeoutError', message: /no peer had a good copy/ })
  t.is(asked, 1, 'the network was not asked again')
  await t.throwsAsync(repairer.repair(lost))
  t.is(asked, 2)
  t.deepEqual(repairer.stats(), { repaired: 0, failed: 2 })
})
