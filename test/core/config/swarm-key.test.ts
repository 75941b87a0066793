import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { InvalidSwarmKeyError, SwarmKeyExistsError } from '../../../core/errors.ts'
import { generateSwarmKey, parseSwarmKey, readSwarmKey, writeSwarmKey } from '../../../core/config/swarm-key.ts'
import { tempDir } from '../../helpers/tmp.ts'

const HEX = 'dffb7e3135399a8b1612b2aaca1c36a3a8ac2cd0cca51ceeb2ced87d308cac6d'
const KEY = `/key/swarm/psk/1.0.0/\n/base16/\n${HEX}`

test('a generated key parses back to its 32 bytes', t => {
  const text = generateSwarmKey()
  t.regex(text, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
  const key = parseSwarmKey(text)
  t.is(key.length, 32)
  t.is(Buffer.from(key).toString('hex'), text.split('\n')[2])
  t.not(generateSwarmKey(), text)
})

test('parsing tolerates trailing newlines, CRLF, surrounding whitespace and bytes', t => {
  const expected = Buffer.from(HEX, 'hex')
  for (const text of [KEY, `${KEY}\n`, `${KEY}\n\n`, KEY.replaceAll('\n', '\r\n') + '\r\n', `  ${KEY.replaceAll('\n', ' \n ')}  \n`, HEX.toUpperCase().replace(/^/, '/key/swarm/psk/1.0.0/\n/base16/\n')]) {
    t.deepEqual(Buffer.from(parseSwarmKey(text)), expected, JSON.stringify(text))
  }
  t.deepEqual(Buffer.from(parseSwarmKey(new TextEncoder().encode(`${KEY}\n`))), expected)
})

test('bad keys are refused with a message saying what is wrong', t => {
  const cases: Array<[string | Uint8Array, RegExp]> = [
    ['', /empty/],
    ['\n  \n', /empty/],
    [`/key/swarm/psk/2.0.0/\n/base16/\n${HEX}`, /must start with the line/],
    [`/base16/\n${HEX}`, /must start with the line/],
    ['/key/swarm/psk/1.0.0/', /no encoding line/],
    [`/key/swarm/psk/1.0.0/\n/base64/\n${HEX}`, /encoding "\/base64\/" is not supported/],
    ['/key/swarm/psk/1.0.0/\n/base16/', /no key line/],
    [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(1)}`, /63 hex digits; expected 64/],
    [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX}00`, /66 hex digits; expected 64/],
    [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(1)}g`, /not hexadecimal/],
    [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\nextra`, /unexpected lines/],
    [new Uint8Array([0xff, 0xfe, 0x00]), /not UTF-8/]
  ]
  for (const [input, message] of cases) {
    const err = t.throws(() => parseSwarmKey(input), { instanceOf: InvalidSwarmKeyError, message }, JSON.stringify(String(input)))
    t.is(err?.name, 'InvalidSwarmKeyError')
  }
})

test('writing refuses to overwrite an existing key unless asked, and keeps the file private', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const path = join(dir.path, 'nested', 'swarm.key')
  const first = generateSwarmKey()
  await writeSwarmKey(path, first)
  t.is((await stat(path)).mode & 0o777, 0o600)
  const err = await t.throwsAsync(writeSwarmKey(path, generateSwarmKey()), { instanceOf: SwarmKeyExistsError, message: /already exists/ })
  t.is(err?.name, 'SwarmKeyExistsError')
  t.is(await readFile(path, 'utf8'), first)
  t.deepEqual(await readSwarmKey(path), parseSwarmKey(first))

  const second = generateSwarmKey()
  await writeSwarmKey(path, second, { overwrite: true })
  t.deepEqual(await readSwarmKey(path), parseSwarmKey(second))
})

test('writing or reading an invalid key fails with InvalidSwarmKeyError', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const path = join(dir.path, 'swarm.key')
  await t.throwsAsync(writeSwarmKey(path, 'not a key'), { instanceOf: InvalidSwarmKeyError })
  await writeFile(path, `/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(2)}\n`)
  await t.throwsAsync(readSwarmKey(path), { instanceOf: InvalidSwarmKeyError, message: new RegExp(`${path}: .*62 hex digits`) })
})
