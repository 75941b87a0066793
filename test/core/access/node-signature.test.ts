import test from 'ava'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { signNodeRequest, verifyNodeRequest } from '../../../core/access/index.ts'

async function node (): Promise<{ key: Awaited<ReturnType<typeof generateKeyPair>>, id: string }> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

test('a node\'s signed request verifies as its peer ID, for that method and path only', async t => {
  const a = await node()
  const now = Date.UTC(2026, 11, 3)
  const header = await signNodeRequest(a.key, a.id, 'GET', '/api/v1/media/0123456789abcdef', now)
  t.regex(header, /^CidcastNode peer=12D3KooW\w+, time=\d+, sig=[A-Za-z0-9_-]{86}$/)
  t.is(await verifyNodeRequest(header, 'GET', '/api/v1/media/0123456789abcdef', { nowMs: now }), a.id)
  t.is(await verifyNodeRequest(header, 'get', '/api/v1/media/0123456789abcdef', { nowMs: now + 59_000 }), a.id, 'within the skew')
  for (const [method, path] of [['POST', '/api/v1/media/0123456789abcdef'], ['GET', '/api/v1/media/0123456789abcdee'], ['GET', '/api/v1/media/0123456789abcdef?x=1']]) {
    await t.throwsAsync(verifyNodeRequest(header, method, path, { nowMs: now }), { name: 'InvalidCredentialsError', message: /does not verify/ }, `${method} ${path}`)
  }
  await t.throwsAsync(verifyNodeRequest(header, 'GET', '/api/v1/media/0123456789abcdef', { nowMs: now + 61_000 }), { name: 'InvalidCredentialsError', message: /clock/ })
  await t.throwsAsync(verifyNodeRequest(header, 'GET', '/api/v1/media/0123456789abcdef', { nowMs: now - 61_000 }), { name: 'InvalidCredentialsError', message: /clock/ })
})

test('a signature under another node\'s peer ID, a changed time or a malformed header is refused', async t => {
  const a = await node()
  const b = await node()
  const now = Date.now()
  const header = await signNodeRequest(a.key, a.id, 'GET', '/x', now)
  const claimed = header.replace(a.id, b.id)
  await t.throwsAsync(verifyNodeRequest(claimed, 'GET', '/x', { nowMs: now }), { name: 'InvalidCredentialsError', message: /does not verify/ })
  const time = /time=(\d+)/.exec(header)?.[1] ?? ''
  await t.throwsAsync(verifyNodeRequest(header.replace(`time=${time}`, `time=${Number(time) + 1}`), 'GET', '/x', { nowMs: now }), { name: 'InvalidCredentialsError' })
  const sig = /sig=(\S+)/.exec(header)?.[1] ?? ''
  const flipped = header.replace(sig, (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1))
  await t.throwsAsync(verifyNodeRequest(flipped, 'GET', '/x', { nowMs: now }), { name: 'InvalidCredentialsError' })
  for (const bad of ['CidcastNode', 'CidcastNode peer=x, time=1, sig=y', `CidcastNode peer=${a.id}, time=abc, sig=${sig}`, `${header} extra`, header.replace('peer=12D3KooW', 'peer=QmZZZZZZ')]) {
    await t.throwsAsync(verifyNodeRequest(bad, 'GET', '/x', { nowMs: now }), { name: 'InvalidCredentialsError' }, bad)
  }
})
