import test from 'ava'
import { parseControlReply, parseControlRequest } from '../../../core/control/validate.ts'
import type { RegisterRequest } from '../../../core/control/index.ts'

const KEY = { id: '0123456789abcdef', publicKey: 'A'.repeat(43) }
const RETIRED = { id: 'fedcba9876543210', publicKey: 'B'.repeat(43), expiresAt: '2030-01-02T00:00:00.000Z' }
const CREDENTIAL = { token: 'AQ_-x'.repeat(20), expiresAt: '2030-01-01T00:10:00.000Z' }

test('register and heartbeat replies carry the stream keys, publicMedia and the node credential, field by field', t => {
  const access = { keys: [KEY, RETIRED], publicMedia: false, credential: CREDENTIAL }
  t.deepEqual(parseControlReply({ type: 'registered', label: 'alpha', dnsName: 'alpha.cidcast.internal', heartbeatSeconds: 15, access, extra: 1 }),
    { type: 'registered', label: 'alpha', dnsName: 'alpha.cidcast.internal', heartbeatSeconds: 15, access })
  t.deepEqual(parseControlReply({ type: 'ok', access: { keys: [KEY], publicMedia: true, unknown: 'dropped' } }), { type: 'ok', access: { keys: [KEY], publicMedia: true } })
  t.deepEqual(parseControlReply({ type: 'ok' }), { type: 'ok' }, 'a server that signs nothing sends nothing')
})

test('keys, flags and credentials of the wrong shape are refused before the node looks at them', t => {
  const bad: Array<[unknown, RegExp]> = [
    [{ keys: [KEY] }, /publicMedia/],
    [{ keys: 'no', publicMedia: false }, /keys must be an array/],
    [{ keys: Array(17).fill(KEY), publicMedia: false }, /at most 16/],
    [{ keys: [{ ...KEY, id: 'ABCDEF0123456789' }], publicMedia: false }, /id must be 16 lower-case hex/],
    [{ keys: [{ ...KEY, publicKey: 'A'.repeat(42) + '=' }], publicMedia: false }, /32 bytes of base64url/],
    [{ keys: [{ ...KEY, expiresAt: 'soon' }], publicMedia: false }, /must be a date/],
    [{ keys: [KEY], publicMedia: 'yes' }, /publicMedia must be a boolean/],
    [{ keys: [KEY], publicMedia: false, credential: { token: 'has space', expiresAt: CREDENTIAL.expiresAt } }, /base64url/],
    [{ keys: [KEY], publicMedia: false, credential: { token: 'x'.repeat(513), expiresAt: CREDENTIAL.expiresAt } }, /at most 512/],
    [{ keys: [KEY], publicMedia: false, credential: { token: 'abc' } }, /expiresAt must be a string/]
  ]
  for (const [access, message] of bad) {
    t.throws(() => parseControlReply({ type: 'ok', access }), { name: 'InvalidControlMessageError', message }, JSON.stringify(access).slice(0, 80))
  }
})

test('a registration names its owner as a user name, folded to lower case; a reply gives the owner\'s user id', t => {
  const register = { type: 'register', name: 'laptop', mode: 'local', url: 'http://127.0.0.1:8081/', addresses: [], ipns: 'k51', capacity: { quotaBytes: 1, usedBytes: 0, freeBytes: 1 } }
  t.is((parseControlRequest({ ...register, owner: ' Alice ' }) as RegisterRequest).owner, 'alice')
  t.false('owner' in parseControlRequest(register), 'no owner: none')
  for (const owner of ['', 'has space', '-dash', 'a'.repeat(65), 7]) {
    t.throws(() => parseControlRequest({ ...register, owner }), { name: 'InvalidControlMessageError', message: /owner must be a user name/ }, JSON.stringify(owner))
  }
  t.deepEqual(parseControlReply({ type: 'ok', access: { keys: [KEY], publicMedia: false, owner: '0123456789abcdef' } }), { type: 'ok', access: { keys: [KEY], publicMedia: false, owner: '0123456789abcdef' } })
  t.throws(() => parseControlReply({ type: 'ok', access: { keys: [KEY], publicMedia: false, owner: 'not an id' } }), { name: 'InvalidControlMessageError', message: /owner must be a user id/ })
})
