import { tempDir } from './tmp.ts'
import type { TestFn } from 'ava'

/** A test's folder and the parts it started (servers, nodes), stopped in reverse order after it. */
export interface RunningContext {
  dir: string
  remove: () => Promise<void>
  running: Array<{ stop: () => Promise<void> }>
}

/** Gives each test of `test` a fresh folder named `prefix...` and stops what it pushed to `running` after it, pass or fail. */
export function withRunningParts (test: TestFn<RunningContext>, prefix: string): void {
  test.beforeEach(async t => {
    const dir = await tempDir(prefix)
    t.context = { dir: dir.path, remove: dir.remove, running: [] }
  })
  test.afterEach.always(async t => {
    for (const part of t.context.running.reverse()) await part.stop().catch(() => {})
    await t.context.remove()
  })
}
