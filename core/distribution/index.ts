/*
 * core/distribution: automatic distribution (issue 13) on the main server: decayed demand, the placement and
 * eviction policy, and prediction of the next title. Pure parts: the main server's distributor and the simulator
 * (`npm run simulate`) drive the same modules. Other folders import this file only.
 */

export { addDecayed, decayFactor, valueAt } from './decay.ts'
export type { Decayed } from './decay.ts'
export { createDemandBoard } from './demand.ts'
export type { DemandBoard, DemandBoardInit, PlayEvent, ServedEvent } from './demand.ts'
export { planDistribution } from './plan.ts'
export type { Plan, PlanAction, PlanHolding, PlanInput, PlanItem, PlanNode, PlanRule, PlanShortfall } from './plan.ts'
export { crossedMarks, crossedPrecache, precacheSegments, precacheWanted } from './predict.ts'
export type { PrecacheMark, PrecacheMarks } from './predict.ts'
export { createContinuations } from './continuations.ts'
export type { Continuations, ContinuationsInit } from './continuations.ts'
export { AFTER_PLAY_MS, createDistributor } from './distributor.ts'
export { registerDistributionMetrics } from './metrics.ts'
export type { DistributionCounters, DistributionDecision, DistributionStatus, Distributor, DistributorComponents, DistributorMedia, DistributorNode, DistributorRow } from './distributor.ts'
