import test from 'ava'
import { DISTRIBUTION_DEFAULTS, parseDistribution } from '../../../core/config/index.ts'
import { addDecayed, createDemandBoard, planDistribution, valueAt } from '../../../core/distribution/index.ts'
import type { DistributionSettings } from '../../../core/config/index.ts'
import type { DemandBoard, PlanHolding, PlanItem, PlanNode } from '../../../core/distribution/index.ts'

const HOUR = 3_600_000
const MB = 2 ** 20
const NOW = 100 * HOUR

function settings (over: Partial<DistributionSettings> = {}): DistributionSettings {
  return { ...DISTRIBUTION_DEFAULTS, ...over }
}

function board (): DemandBoard {
  return createDemandBoard({ halfLifeMs: 6 * HOUR, viewerWindowMs: HOUR })
}

function nodes (spec: Array<[string, string | null, number]>): PlanNode[] {
  return spec.map(([id, region, cacheMb]) => ({ id, region, eligible: true, diskFull: false, cacheBytes: cacheMb * MB }))
}

function items (...titles: Array<[string, number]>): Map<string, PlanItem> {
  return new Map(titles.map(([title, mb]) => [title, { key: `root-${title}`, title, bytes: mb * MB }]))
}

function plays (demand: DemandBoard, title: string, n: number, node: string | null = null, region: string | null = null, at = NOW): void {
  for (let i = 0; i < n; i++) demand.play({ viewer: `v${i}-${title}`, title, node, region, at })
}

function holding (node: string, title: string, mb: number, auto: boolean, since: number): PlanHolding {
  return { node, key: `root-${title}`, title, bytes: mb * MB, auto, since }
}

test('a decayed count halves every half-life, whatever order its additions come in', t => {
  const a = addDecayed(addDecayed(undefined, 4, 0, HOUR), 2, HOUR, HOUR)
  const b = addDecayed(addDecayed(undefined, 2, HOUR, HOUR), 4, 0, HOUR)
  t.is(valueAt(a, HOUR, HOUR), 4)
  t.is(valueAt(b, HOUR, HOUR), 4)
  t.is(valueAt(a, 3 * HOUR, HOUR), 1)
})

test('viewers through a node are counted once each, within the window only', t => {
  const demand = board()
  demand.play({ viewer: 'ann', title: 'm', node: 'a', region: null, at: NOW - 2 * HOUR })
  demand.play({ viewer: 'bob', title: 'm', node: 'a', region: null, at: NOW - 10 })
  demand.play({ viewer: 'bob', title: 'm', node: 'a', region: null, at: NOW - 5 })
  t.is(demand.viewersThrough('a', 'm', NOW), 1)
  demand.play({ viewer: 'ann', title: 'm', node: 'a', region: null, at: NOW })
  t.is(demand.viewersThrough('a', 'm', NOW), 2)
  demand.prune(NOW + 2 * HOUR)
  t.is(demand.viewersThrough('a', 'm', NOW + 2 * HOUR), 0)
})

test('plays ask plays/playsPerReplica copies, at most max, spread over regions before doubling up in one', t => {
  const demand = board()
  plays(demand, 'hot', 40, null, 'eu')
  const net = nodes([['eu1', 'eu', 100], ['eu2', 'eu', 200], ['us1', 'us', 50], ['as1', 'as', 10]])
  const plan = planDistribution({ now: NOW, nodes: net, items: items(['hot', 20]), holdings: [], demand }, settings({ max: 4 }))
  const placed = plan.actions.filter(a => a.kind === 'place').map(a => a.node)
  t.deepEqual(placed, ['eu2', 'us1', 'eu1'], 'the most played region first (its freest node), then another region; as1 has no room')
  t.is(plan.shortfalls.length, 1)
  t.regex(plan.shortfalls[0]?.reason ?? '', /4 copies wanted .* 3 placed/)
})

test('the second viewer of a title through a node within the window gets it placed there, whatever the factor', t => {
  const demand = board()
  demand.play({ viewer: 'ann', title: 'show', node: 'b', region: 'us', at: NOW - 30 * 60_000 })
  const net = nodes([['a', 'us', 100], ['b', 'us', 100]])
  const quiet = settings({ minPlays: 100 })
  t.deepEqual(planDistribution({ now: NOW, nodes: net, items: items(['show', 10]), holdings: [], demand }, quiet).actions, [])
  demand.play({ viewer: 'bob', title: 'show', node: 'b', region: 'us', at: NOW })
  const [action] = planDistribution({ now: NOW, nodes: net, items: items(['show', 10]), holdings: [], demand }, quiet).actions
  t.like(action, { kind: 'place', node: 'b', rule: 'fallback' })
  t.regex(action?.reason ?? '', /2 viewers started it through this node/)
})

test('room is made by evicting less valued automatic copies past their minimum lifetime; young ones and pins stay', t => {
  const demand = board()
  plays(demand, 'new', 20, null, 'eu')
  plays(demand, 'old', 1, null, 'eu')
  const net = nodes([['a', 'eu', 30]])
  const old = holding('a', 'old', 20, true, NOW - 2 * HOUR)
  const pinned = holding('a', 'pinned', 500, false, NOW - 100 * HOUR)
  const plan = planDistribution({ now: NOW, nodes: net, items: items(['new', 20]), holdings: [old, pinned], demand }, settings())
  t.deepEqual(plan.actions.map(a => `${a.kind} ${a.title} ${a.rule}`), ['evict old room', 'place new demand'], 'the pin is not in the budget and is never evicted')

  const young = { ...old, since: NOW - 10 * 60_000 }
  const waits = planDistribution({ now: NOW, nodes: net, items: items(['new', 20]), holdings: [young, pinned], demand }, settings())
  t.deepEqual(waits.actions, [], 'a copy younger than the minimum lifetime is kept')
  const full = planDistribution({ now: NOW, nodes: [{ ...net[0] as PlanNode, diskFull: true }], items: items(['new', 20]), holdings: [young, pinned], demand }, settings())
  t.is(full.actions[0]?.title, 'old', 'unless the node\'s disk is full')
})

test('a copy worth more than the newcomer is not evicted for it', t => {
  const demand = board()
  plays(demand, 'a-lot', 50, null, 'eu')
  plays(demand, 'little', 4, null, 'eu')
  const plan = planDistribution({ now: NOW, nodes: nodes([['a', 'eu', 25]]), items: items(['little', 20]), holdings: [holding('a', 'a-lot', 20, true, 0)], demand }, settings())
  t.deepEqual(plan.actions, [])
})

test('copies above a band over the factor go from the fullest node first; a node\'s own viewers keep theirs; min stays', t => {
  const demand = board()
  plays(demand, 'x', 4, null, 'eu')
  const net = nodes([['a', 'eu', 100], ['b', 'eu', 40], ['c', 'eu', 500], ['d', 'eu', 200], ['e', 'eu', 1000], ['f', 'eu', 300], ['g', 'eu', 600]])
  const old = NOW - 5 * HOUR
  const held = net.map(n => holding(n.id, 'x', 20, true, old))
  const plan = planDistribution({ now: NOW, nodes: net, items: items(['x', 20]), holdings: held, demand }, settings({ playsPerReplica: 1 }))
  t.deepEqual(plan.actions.map(a => `${a.kind} ${a.node} ${a.rule}`), ['evict b over-replicated', 'evict a over-replicated'], 'factor 4: five copies stay')
  const floor = planDistribution({ now: NOW, nodes: net, items: items(['x', 20]), holdings: held, demand }, settings({ min: 6, playsPerReplica: 1 }))
  t.deepEqual(floor.actions.map(a => a.node), ['b'], 'never below min')
  const cold = planDistribution({ now: NOW + 200 * HOUR, nodes: net, items: items(['x', 20]), holdings: held, demand }, settings())
  t.is(cold.actions.filter(a => a.rule === 'over-replicated').length, 7, 'a title nobody plays gives all its room back')
  demand.play({ viewer: 'v1', title: 'x', node: 'b', region: 'eu', at: NOW })
  demand.play({ viewer: 'v2', title: 'x', node: 'b', region: 'eu', at: NOW })
  const kept = planDistribution({ now: NOW, nodes: net, items: items(['x', 20]), holdings: held, demand }, settings({ playsPerReplica: 100 }))
  t.false(kept.actions.some(a => a.node === 'b'), 'b\'s viewers keep its copy')
})

test('a node whose budget shrank evicts its lowest values; explicit pins never count', t => {
  const demand = board()
  plays(demand, 'p', 10, null, 'eu')
  plays(demand, 'q', 1, null, 'eu')
  const held = [holding('a', 'p', 20, true, 0), holding('a', 'q', 20, true, 0), holding('a', 'pin', 90, false, 0)]
  const plan = planDistribution({ now: NOW, nodes: nodes([['a', 'eu', 30]]), items: items(['p', 20], ['q', 20]), holdings: held, demand }, settings({ max: 1 }))
  t.deepEqual(plan.actions.map(a => `${a.kind} ${a.title} ${a.rule}`), ['evict q over-budget'])
})

test('nodes that are offline, local or revoked are never given copies', t => {
  const demand = board()
  plays(demand, 'x', 10, null, 'eu')
  const net = nodes([['a', 'eu', 100]]).map(n => ({ ...n, eligible: false }))
  const plan = planDistribution({ now: NOW, nodes: net, items: items(['x', 20]), holdings: [], demand }, settings())
  t.deepEqual(plan.actions, [])
  t.is(plan.shortfalls.length, 1)
})

test('the distribution section keeps defaults for fields left out and refuses a bad field by its name', t => {
  t.deepEqual(parseDistribution({ max: 3 }, 'distribution'), { ...DISTRIBUTION_DEFAULTS, max: 3 })
  t.is(parseDistribution('{"auto": false}', 'distribution').auto, false)
  t.throws(() => parseDistribution({ halfLifeHours: -1 }, 'distribution'), { name: 'InvalidConfigError', message: /^distribution\.halfLifeHours must be a number from/ })
  t.throws(() => parseDistribution({ maxx: 3 }, 'distribution'), { message: /^distribution\.maxx is not a setting/ })
  t.throws(() => parseDistribution({ min: 5, max: 2 }, 'distribution'), { message: /distribution\.min \(5\) must not be above distribution\.max \(2\)/ })
  t.throws(() => parseDistribution({ evictionValue: 'lru' }, 'distribution'), { message: /distribution\.evictionValue must be one of gdsf, lfu/ })
  t.throws(() => parseDistribution('[1]', 'distribution'), { message: /distribution must be an object/ })
  t.throws(() => parseDistribution('{', 'distribution'), { message: /distribution must be a JSON object/ })
})
