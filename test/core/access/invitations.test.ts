import test from 'ava'
import { createInvitations, decodeJoinToken, encodeJoinToken } from '../../../core/access/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import type { InvitationRecord, InvitationRepository } from '../../../core/catalog/index.ts'

/** The repository in memory, one change at a time as the catalog's write queue does. */
function memoryRepository (): InvitationRepository {
  const rows = new Map<string, InvitationRecord>()
  let queue: Promise<unknown> = Promise.resolve()
  return {
    async all () { return [...rows.values()].reverse() },
    async add (record) { rows.set(record.id, record) },
    async update (id, change) {
      const run = queue.then(async () => {
        await new Promise(resolve => setImmediate(resolve))
        const next = change(rows.get(id))
        rows.set(next.id, next)
        return next
      })
      queue = run.catch(() => {})
      return await run
    }
  }
}

function invitations (clock = { now: () => Date.UTC(2026, 11, 4) }): ReturnType<typeof createInvitations> {
  return createInvitations({
    logger: silentLogger(),
    repository: memoryRepository(),
    userExists: async name => name === 'carol',
    joinInfo: () => ({ addresses: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWExample'], swarmKey: new Uint8Array(32).fill(7) }),
    clock
  })
}

const URL_ = 'http://media.example:8080/'

test('a token carries the server, its addresses, the swarm key and a secret; listings never show the secret', async t => {
  const made = await invitations().invite({ url: URL_, name: 'attic', mode: 'local', owner: 'carol' })
  const token = decodeJoinToken(made.token)
  t.like(token, { url: 'http://media.example:8080', addresses: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWExample'], swarmKey: '07'.repeat(32), id: made.invitation.id })
  t.like(made.invitation, { name: 'attic', mode: 'local', owner: 'carol', state: 'open', spentBy: null })
  t.false(JSON.stringify(made.invitation).includes(token.secret))
  t.deepEqual(decodeJoinToken(encodeJoinToken(token)), token)
})

test('two nodes spending one invitation at once: one joins, the other is told it is spent', async t => {
  const i = invitations()
  const { token } = await i.invite({ url: URL_ })
  const { id, secret } = decodeJoinToken(token)
  const results = await Promise.allSettled([i.spend(id, secret, 'peer-a'), i.spend(id, secret, 'peer-b')])
  t.is(results.filter(r => r.status === 'fulfilled').length, 1)
  const lost = results.find(r => r.status === 'rejected')
  t.is((lost as PromiseRejectedResult).reason.name, 'InvitationSpentError')
  const winner = results[0].status === 'fulfilled' ? 'peer-a' : 'peer-b'
  t.like(await i.spend(id, secret, winner), { mode: 'shared' }, 'the node that joined may show it again')
  t.like((await i.list())[0], { state: 'spent', spentBy: winner })
})

test('a wrong secret reads as no invitation; an expired one says so; a revoked one says so', async t => {
  let now = Date.UTC(2026, 11, 4)
  const i = invitations({ now: () => now })
  const first = decodeJoinToken((await i.invite({ url: URL_, expiresInSeconds: 3600 })).token)
  await t.throwsAsync(i.spend(first.id, 'y'.repeat(43), 'peer'), { name: 'InvitationNotFoundError' })
  await t.throwsAsync(i.spend('ffffffffffffffff', first.secret, 'peer'), { name: 'InvitationNotFoundError' })
  now += 3600_000
  await t.throwsAsync(i.spend(first.id, first.secret, 'peer'), { name: 'InvitationExpiredError', message: /expired on 2026-12-04T01:00:00.000Z/ })
  t.is((await i.list())[0].state, 'expired')
  const second = decodeJoinToken((await i.invite({ url: URL_ })).token)
  t.like(await i.revoke(second.id), { state: 'revoked' })
  await t.throwsAsync(i.spend(second.id, second.secret, 'peer'), { name: 'InvitationRevokedError' })
})

test('an invitation is refused for an unknown owner, a local node without one, a bad lifetime or a bad URL', async t => {
  const i = invitations()
  await t.throwsAsync(i.invite({ url: URL_, owner: 'mallory' }), { name: 'AccountNotFoundError' })
  await t.throwsAsync(i.invite({ url: URL_, mode: 'local' }), { name: 'InvalidRequestError', message: /name the owner/ })
  await t.throwsAsync(i.invite({ url: URL_, expiresInSeconds: 10 }), { name: 'InvalidRequestError', message: /60 seconds to 30 days/ })
  await t.throwsAsync(i.invite({ url: 'ftp://x' }), { name: 'InvalidRequestError' })
  await t.throwsAsync(i.invite({ url: URL_, name: 'a\u202Eb' }), { name: 'InvalidNodeNameError' })
  t.deepEqual(await i.list(), [], 'nothing was kept')
})

test('damaged tokens are refused saying what is wrong, never quoting them', t => {
  const good = encodeJoinToken({ url: 'http://a:1', addresses: [], swarmKey: 'ab'.repeat(32), id: '0123456789abcdef', secret: 's'.repeat(43) })
  for (const [text, message] of [
    ['', /empty/],
    ['cca_abc', /starts with "ccj_"/],
    [good.slice(0, 40), /cut short or damaged/],
    [good + '!', /characters it cannot have/],
    ['ccj_' + Buffer.from(JSON.stringify({ v: 2 })).toString('base64url'), /version 2/],
    ['ccj_' + Buffer.from(JSON.stringify({ v: 1, url: 'http://a:1', addrs: [], key: 'zz', id: '0123456789abcdef', secret: 's'.repeat(43) })).toString('base64url'), /swarm key is damaged/]
  ] as const) {
    const err = t.throws(() => decodeJoinToken(text), { name: 'JoinTokenInvalidError' })
    t.regex(err?.message ?? '', message)
    if (text.length > 8) t.false(err?.message.includes(text.slice(4, 20)))
  }
})
