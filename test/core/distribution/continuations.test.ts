import test from 'ava'
import { createContinuations } from '../../../core/distribution/index.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE

function record (): ReturnType<typeof createContinuations> {
  return createContinuations({ halfLifeMs: 6 * HOUR, windowMs: HOUR })
}

test('a group never seen is given the benefit of the doubt', t => {
  t.is(record().share('series-a', 0), 1)
})

test('the share is of crossings followed by a start of the next title within the window', t => {
  const c = record()
  for (let v = 0; v < 20; v++) c.crossed(`v${v}`, 'series-a', 'a-e2', 0)
  for (let v = 0; v < 16; v++) c.started(`v${v}`, 'a-e2', 10 * MINUTE)
  c.started('v16', 'a-e3', 10 * MINUTE) // another title: not going on
  c.started('v17', 'a-e2', 2 * HOUR) // too late
  const share = c.share('series-a', 10 * MINUTE)
  t.true(share > 0.75 && share < 0.85, `${share}`)
})

test('a group where few viewers go on falls below a group where most do', t => {
  const c = record()
  for (let v = 0; v < 30; v++) {
    c.crossed(`s${v}`, 'series', 'ep2', 0)
    c.crossed(`m${v}`, 'movies', 'sequel', 0)
    c.started(`s${v}`, 'ep2', MINUTE)
    if (v % 3 === 0) c.started(`m${v}`, 'sequel', MINUTE)
  }
  t.true(c.share('series', MINUTE) > 0.9)
  t.true(c.share('movies', MINUTE) < 0.5)
})

test('a start counts once, and pruning forgets crossings outside the window', t => {
  const c = record()
  c.crossed('v', 'g', 'next', 0)
  c.started('v', 'next', MINUTE)
  c.started('v', 'next', 2 * MINUTE)
  t.true(c.share('g', 2 * MINUTE) <= 1)
  c.crossed('w', 'g', 'next', 0)
  c.prune(2 * HOUR)
  c.started('w', 'next', 2 * HOUR + MINUTE)
  const before = c.share('g', 2 * HOUR + MINUTE)
  t.true(before < 1, `${before}: w's late start did not count`)
})

test('a viewer who crosses two marks of a title counts as going on at both', t => {
  const c = record()
  for (let v = 0; v < 10; v++) {
    c.crossed(`v${v}`, 'series@early', 'ep2', 0)
    c.crossed(`v${v}`, 'series@late', 'ep2', MINUTE)
    c.started(`v${v}`, 'ep2', 2 * MINUTE)
  }
  t.true(c.share('series@early', 2 * MINUTE) > 0.95, 'the later crossing did not take the earlier one\'s place')
  t.true(c.share('series@late', 2 * MINUTE) > 0.95)
})
