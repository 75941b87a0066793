import test from 'ava'
import { parseWrk, wrkMs } from '../../bench/crowd.ts'

// wrk 4.1's report for 15 s, one thread, 200 connections, --latency (Debian's package), with errors added; wrk pads a
// duration in a one-letter unit with a space (the 99% line below)
const REPORT = `Running 15s test @ http://127.0.0.1:40447
  1 threads and 200 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    33.71ms   21.94ms 213.20ms   95.91%
    Req/Sec     3.28k   374.35     3.79k    86.67%
  Latency Distribution
     50%   30.19ms
     75%   34.52ms
     90%   47.78ms
     99%    1.20s 
  48956 requests in 15.02s, 27.87GB read
  Socket errors: connect 0, read 2, write 1, timeout 4
  Non-2xx or 3xx responses: 7
Requests/sec:   3259.36
Transfer/sec:      1.86GB
`

test('wrk\'s latency report gives the percentiles, the longest request, the bytes and every kind of failure', t => {
  const round = parseWrk(REPORT, 15)
  t.is(round.requests, 48956)
  t.is(round.p50Ms, 30.19)
  t.is(round.p99Ms, 1200)
  t.is(round.maxMs, 213.2)
  t.is(Math.round(round.mbPerSecond), Math.round(27.87 * 1024 ** 3 / 1e6 / 15))
  t.is(round.errors, 3)
  t.is(round.timeouts, 4)
  t.is(round.non2xx, 7)
})

test('a report without errors counts none', t => {
  const clean = REPORT.replace(/ {2}Socket errors.*\n {2}Non-2xx.*\n/, '')
  const round = parseWrk(clean, 15)
  t.is(round.errors + round.timeouts + round.non2xx, 0)
})

test('wrk\'s durations read in every unit it prints, and anything else is refused by name', t => {
  t.is(wrkMs('850.00us'), 0.85)
  t.is(wrkMs('31.42ms'), 31.42)
  t.is(wrkMs('1.50s'), 1500)
  t.is(wrkMs('2.00m'), 120_000)
  t.throws(() => wrkMs('12 parsecs'), { message: /12 parsecs/ })
})

test('a report cut short names what it lacks', t => {
  t.throws(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused\n', 15), { message: /requests in/ })
})
