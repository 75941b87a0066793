import test from 'ava'
import { DISTRIBUTION_DEFAULTS, parseDistribution } from '../../../core/config/index.ts'

test('a precacheAt given alone past the default late mark makes one mark', t => {
  const s = parseDistribution({ precacheAt: 0.97 }, 'distribution')
  t.is(s.precacheAt, 0.97)
  t.is(s.precacheLateAt, 0.97)
})

test('a late mark given before the early one is refused by name', t => {
  const err = t.throws(() => parseDistribution({ precacheAt: 0.9, precacheLateAt: 0.8 }, 'distribution'))
  t.regex(err?.message ?? '', /distribution\.precacheLateAt \(0\.8\) must not be below distribution\.precacheAt \(0\.9\)/)
})

test('the defaults pre-cache at 75% where nearly all go on, else at 95%', t => {
  const s = parseDistribution({}, 'distribution')
  t.deepEqual(s, { ...DISTRIBUTION_DEFAULTS })
  t.true(s.precacheAt < s.precacheLateAt)
  t.true(s.precacheEarlyShare > s.precacheMinShare)
})
