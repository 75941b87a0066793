import { execFile } from 'node:child_process'
import { chmod, symlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { promisify } from 'node:util'
import test from 'ava'
import { encoderFingerprint, parseFfmpegVersion, resolveFfmpeg } from '../../../core/media/ffmpeg-binary.ts'
import { tempDir } from '../../helpers/tmp.ts'

const run = promisify(execFile)
const require = createRequire(import.meta.url)
const BUNDLED_FFMPEG = (require('@ffmpeg-installer/ffmpeg') as { path: string }).path
const BUNDLED_FFPROBE = (require('@ffprobe-installer/ffprobe') as { path: string }).path

test('parseFfmpegVersion reads release, distribution and git-build version strings', t => {
  t.deepEqual(parseFfmpegVersion('ffmpeg version n4.4 Copyright (c) 2000-2021'), { version: 'n4.4', major: 4 })
  t.deepEqual(parseFfmpegVersion('ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026 the FFmpeg developers'), { version: '5.1.9-0+deb12u1', major: 5 })
  t.deepEqual(parseFfmpegVersion('ffmpeg version 7.0.2-static https://johnvansickle.com/ffmpeg/'), { version: '7.0.2-static', major: 7 })
  t.deepEqual(parseFfmpegVersion('ffprobe version 4.4.2-0ubuntu0.22.04.1 Copyright'), { version: '4.4.2-0ubuntu0.22.04.1', major: 4 })
  const gitBuild = 'ffmpeg version N-12345-gabcdef0123-static https://example\nbuilt with gcc 8\nlibavutil      58.  2.100 / 58.  2.100\n'
  t.deepEqual(parseFfmpegVersion(gitBuild), { version: 'N-12345-gabcdef0123-static', major: 6 })
  t.deepEqual(parseFfmpegVersion('ffmpeg version N-12345-gabcdef0123 and nothing else'), { version: 'N-12345-gabcdef0123', major: 0 })
  t.deepEqual(parseFfmpegVersion('not ffmpeg at all'), { version: 'unknown', major: 0 })
})

test('encoderFingerprint names the build with key-safe characters', t => {
  t.is(encoderFingerprint('5.1.9-0+deb12u1'), 'ffmpeg-5.1.9-0+deb12u1')
  t.is(encoderFingerprint('weird version/with spaces'), 'ffmpeg-weird_version_with_spaces')
})

test('resolveFfmpeg picks the system ffmpeg when it is version 5 or newer', async t => {
  const binary = await resolveFfmpeg({ PATH: process.env.PATH })
  t.is(binary.source, 'system')
  t.true(binary.major >= 5)
  t.regex(binary.ffmpeg, /\/ffmpeg$/)
  t.regex(binary.ffprobe, /\/ffprobe$/)
  t.is(binary.encoderFingerprint, encoderFingerprint(binary.version))
})

test('resolveFfmpeg caches the result per process', async t => {
  const env = { PATH: process.env.PATH }
  t.is(await resolveFfmpeg(env), await resolveFfmpeg({ ...env }))
})

test('resolveFfmpeg honours FFMPEG_PATH and FFPROBE_PATH even for an old build', async t => {
  const binary = await resolveFfmpeg({ PATH: process.env.PATH, FFMPEG_PATH: BUNDLED_FFMPEG, FFPROBE_PATH: BUNDLED_FFPROBE })
  t.is(binary.source, 'env')
  t.is(binary.ffmpeg, BUNDLED_FFMPEG)
  t.is(binary.ffprobe, BUNDLED_FFPROBE)
  t.is(binary.major, 4)
})

test('resolveFfmpeg takes ffprobe from the folder of FFMPEG_PATH when FFPROBE_PATH is unset', async t => {
  const system = await resolveFfmpeg({ PATH: process.env.PATH })
  const dir = await tempDir()
  t.teardown(dir.remove)
  await symlink(system.ffmpeg, join(dir.path, 'ffmpeg'))
  await symlink(system.ffprobe, join(dir.path, 'ffprobe'))
  const binary = await resolveFfmpeg({ PATH: '', FFMPEG_PATH: join(dir.path, 'ffmpeg') })
  t.is(binary.source, 'env')
  t.is(binary.ffprobe, join(dir.path, 'ffprobe'))
})

test('resolveFfmpeg refuses an FFMPEG_PATH that is not an executable, naming the setting', async t => {
  const err = await t.throwsAsync(resolveFfmpeg({ PATH: process.env.PATH, FFMPEG_PATH: '/nonexistent/ffmpeg' }))
  t.is(err?.name, 'InvalidConfigError')
  t.regex(err?.message ?? '', /^FFMPEG_PATH: /)
})

test('resolveFfmpeg falls back to the bundled binaries when PATH has no ffmpeg', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const binary = await resolveFfmpeg({ PATH: dir.path })
  t.is(binary.source, 'bundled')
  t.is(binary.ffmpeg, BUNDLED_FFMPEG)
  t.is(binary.ffprobe, BUNDLED_FFPROBE)
  t.is(binary.major, 4)
  t.is(binary.encoderFingerprint, `ffmpeg-${binary.version}`)
})

test('resolveFfmpeg skips a system ffmpeg older than 5 for the bundled one', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  for (const name of ['ffmpeg', 'ffprobe']) {
    const fake = join(dir.path, name)
    await writeFile(fake, `#!/bin/sh\necho '${name} version 4.4.2-0ubuntu0.22.04.1 Copyright (c) 2000-2021 the FFmpeg developers'\n`)
    await chmod(fake, 0o755)
  }
  const binary = await resolveFfmpeg({ PATH: dir.path })
  t.is(binary.source, 'bundled')
  t.is(binary.ffmpeg, BUNDLED_FFMPEG)
})

test('the bundled ffmpeg and ffprobe run -version', async t => {
  const ffmpeg = await run(BUNDLED_FFMPEG, ['-version'])
  t.regex(ffmpeg.stdout, /^ffmpeg version /)
  const ffprobe = await run(BUNDLED_FFPROBE, ['-version'])
  t.regex(ffprobe.stdout, /^ffprobe version /)
})
