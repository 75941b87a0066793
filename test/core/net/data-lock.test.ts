import { spawn } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { DataFolderLockedError } from '../../../core/errors.ts'
import { LOCK_FILE, lockDataFolder } from '../../../core/net/data-lock.ts'
import { tempDir } from '../../helpers/tmp.ts'

/** The pid of a process that has exited. */
async function deadPid (): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise(resolve => child.once('exit', resolve))
  return child.pid ?? 0
}

test('a second lock on the same folder fails, naming the folder, until the first is released', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const release = await lockDataFolder(dir.path)
  const record = JSON.parse(await readFile(join(dir.path, LOCK_FILE), 'utf8'))
  t.is(record.pid, process.pid)

  const err = await t.throwsAsync(lockDataFolder(dir.path), { instanceOf: DataFolderLockedError })
  t.is(err?.name, 'DataFolderLockedError')
  t.true(err?.message.includes(dir.path))
  t.true(err?.message.includes(String(process.pid)))

  await release()
  t.deepEqual(await readdir(dir.path), [], 'no lock or draft files are left behind')
  const again = await lockDataFolder(dir.path)
  await again()
  await release() // a second release does nothing
  t.deepEqual(await readdir(dir.path), [])
})

test('another process cannot lock a folder a live daemon holds, and takes it over once that daemon is killed', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const module = fileURLToPath(new URL('../../../core/net/data-lock.ts', import.meta.url))
  const script = `const { lockDataFolder } = await import(${JSON.stringify(module)}); await lockDataFolder(${JSON.stringify(dir.path)}); process.stdout.write('locked\\n'); setInterval(() => {}, 60000)`
  const child = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill('SIGKILL') })
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (data: Buffer) => { if (data.toString().includes('locked')) resolve() })
    child.once('exit', code => { reject(new Error(`child exited with ${String(code)}`)) })
  })
  await t.throwsAsync(lockDataFolder(dir.path), { instanceOf: DataFolderLockedError, message: new RegExp(`process ${child.pid ?? 0} `) })
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
  const release = await lockDataFolder(dir.path)
  await release()
})

test('a lock left by a process that no longer exists is taken over', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  await writeFile(join(dir.path, LOCK_FILE), JSON.stringify({ pid: await deadPid(), hostname: hostname(), token: 'old' }))
  const release = await lockDataFolder(dir.path)
  t.is(JSON.parse(await readFile(join(dir.path, LOCK_FILE), 'utf8')).pid, process.pid)
  await release()
})

test('a damaged lock file is taken over', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  await writeFile(join(dir.path, LOCK_FILE), '')
  const release = await lockDataFolder(dir.path)
  await release()
  t.deepEqual(await readdir(dir.path), [])
})

test('a lock held by a live process or another host is respected', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const path = join(dir.path, LOCK_FILE)
  // pid 1 always exists
  await writeFile(path, JSON.stringify({ pid: 1, hostname: hostname(), token: 'init' }))
  await t.throwsAsync(lockDataFolder(dir.path), { instanceOf: DataFolderLockedError, message: /process 1 / })
  await writeFile(path, JSON.stringify({ pid: await deadPid(), hostname: 'elsewhere.example', token: 'remote' }))
  await t.throwsAsync(lockDataFolder(dir.path), { instanceOf: DataFolderLockedError, message: /elsewhere\.example/ })
  t.is(JSON.parse(await readFile(path, 'utf8')).token, 'remote', 'a refused lock is left alone')
})

test('our own pid in a lock we do not hold is a previous life of this pid, and is taken over', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  await writeFile(join(dir.path, LOCK_FILE), JSON.stringify({ pid: process.pid, hostname: hostname(), token: 'before-restart' }))
  const release = await lockDataFolder(dir.path)
  t.not(JSON.parse(await readFile(join(dir.path, LOCK_FILE), 'utf8')).token, 'before-restart')
  await release()
})

test('of many simultaneous attempts exactly one gets the lock', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  await writeFile(join(dir.path, LOCK_FILE), JSON.stringify({ pid: await deadPid(), hostname: hostname(), token: 'stale' }))
  const results = await Promise.allSettled(Array.from({ length: 8 }, async () => await lockDataFolder(dir.path)))
  const won = results.filter(result => result.status === 'fulfilled')
  t.is(won.length, 1)
  for (const result of results) {
    if (result.status === 'rejected') t.is(result.reason.name, 'DataFolderLockedError')
  }
  await (won[0] as PromiseFulfilledResult<() => Promise<void>>).value()
  t.deepEqual(await readdir(dir.path), [])
})
