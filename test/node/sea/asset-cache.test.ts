import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { assetCacheDir, cachedFile, cachedFolder, sha256Hex } from '../../../node/sea/asset-cache.ts'
import { checkModuleGraph } from '../../../node/sea/bundle.ts'
import { tempDir } from '../../helpers/tmp.ts'

/*
 * What the single executable unpacks (its native addon, its web UI) goes to a cache folder by content hash, written
 * whole or not at all, and reused; these tests use real files in a temporary folder.
 */

const ADDON = { stem: 'addon', ext: 'node' }

test('a cached file is written once under its content hash, then reused without being asked for its bytes', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const bytes = Buffer.from('native code')
  const hash = sha256Hex(bytes)
  const path = cachedFile(dir.path, ADDON, () => bytes, hash)
  t.is(path, join(dir.path, `addon-${hash.slice(0, 32)}.node`))
  t.deepEqual(await readFile(path), bytes)
  t.is(cachedFile(dir.path, ADDON, () => { throw new Error('read again') }, hash), path)
})

test('a cached file whose content is not its hash\'s (damaged) is written again', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const bytes = Buffer.from('native code')
  const path = cachedFile(dir.path, ADDON, () => bytes, sha256Hex(bytes))
  await chmod(path, 0o600)
  await writeFile(path, 'damaged')
  t.is(cachedFile(dir.path, ADDON, () => bytes, sha256Hex(bytes)), path)
  t.deepEqual(await readFile(path), bytes)
})

test('bytes that do not match the hash the build recorded are refused, and nothing is written', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const hash = sha256Hex(Buffer.from('what the build packed'))
  const error = t.throws(() => cachedFile(dir.path, ADDON, () => Buffer.from('something else'), hash))
  t.is(error?.name, 'AssetCacheError')
  t.is(await stat(join(dir.path, `addon-${hash.slice(0, 32)}.node`)).catch(() => undefined), undefined)
})

test('a cached folder is written whole under its hash, then reused', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const files: Array<[string, Uint8Array]> = [['public/index.html', Buffer.from('<html>')], ['public/app/main.js', Buffer.from('main()')], ['hls.min.js', Buffer.from('hls')]]
  const path = cachedFolder(dir.path, 'ui', 'ab'.repeat(32), () => files)
  t.is(path, join(dir.path, `ui-${'ab'.repeat(16)}`))
  for (const [name, bytes] of files) t.deepEqual(await readFile(join(path, name)), Buffer.from(bytes))
  t.is(cachedFolder(dir.path, 'ui', 'ab'.repeat(32), () => { throw new Error('read again') }), path)
})

test('the cache folder is under XDG_CACHE_HOME; where it cannot be made, a private folder of this user in TMPDIR', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  t.is(assetCacheDir({ XDG_CACHE_HOME: join(dir.path, 'cache') }), join(dir.path, 'cache', 'cidcast-node'))
  t.is((await stat(join(dir.path, 'cache', 'cidcast-node'))).mode & 0o777, 0o700)

  // a file where the cache folder should be: no home to write to
  await writeFile(join(dir.path, 'not-a-folder'), '')
  const tmp = join(dir.path, 'tmp')
  await mkdir(tmp)
  const fallback = assetCacheDir({ XDG_CACHE_HOME: join(dir.path, 'not-a-folder'), TMPDIR: tmp })
  t.is(fallback, join(tmp, `cidcast-node-${process.getuid?.() ?? 0}`))
  // one that others may write to could hold planted files: refused
  await chmod(fallback, 0o777)
  const error = t.throws(() => assetCacheDir({ XDG_CACHE_HOME: join(dir.path, 'not-a-folder'), TMPDIR: tmp }))
  t.is(error?.name, 'AssetCacheError')
  t.regex(error?.message ?? '', /not a private folder/)
})

test('the executable\'s module graph may hold no native addon nor a package that loads files at run time', t => {
  t.notThrows(() => { checkModuleGraph(['node/node-main.ts', 'node_modules/classic-level/binding.js', 'node_modules/pino/pino.js']) })
  for (const input of ['node_modules/leveldown/prebuilds/linux-x64/node.napi.node', 'node_modules/node-gyp-build/index.js', 'node_modules/bindings/bindings.js']) {
    t.throws(() => { checkModuleGraph(['node/node-main.ts', input]) }, { message: new RegExp(input.replace(/[.]/g, '\\.')) }, input)
  }
})
