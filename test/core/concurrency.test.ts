import test from 'ava'
import { limitConcurrency } from '../../core/concurrency.ts'

test('limitConcurrency runs at most its limit at once, the others in the order asked, and passes results and errors on', async t => {
  const limited = limitConcurrency(2)
  let running = 0
  let most = 0
  const started: number[] = []
  const gates = Array.from({ length: 5 }, () => Promise.withResolvers<void>())
  const runs = gates.map(async (gate, i) => await limited(async () => {
    started.push(i)
    running++
    most = Math.max(most, running)
    await gate.promise
    running--
    if (i === 3) throw new Error('three failed')
    return i * 10
  }))
  await Promise.resolve()
  t.deepEqual(started, [0, 1], 'two start, three wait')
  for (const gate of gates) gate.resolve()
  const settled = await Promise.allSettled(runs)
  t.deepEqual(started, [0, 1, 2, 3, 4])
  t.is(most, 2)
  t.deepEqual(settled.map(s => s.status === 'fulfilled' ? s.value : (s.reason as Error).message), [0, 10, 20, 'three failed', 40])
})
