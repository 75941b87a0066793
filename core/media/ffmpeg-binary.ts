import { execFile } from 'node:child_process'
import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path'
import { CidcastError, InvalidConfigError } from '../errors.ts'

/** No usable ffmpeg/ffprobe pair was found (not in the environment, not on PATH, not bundled). */
export class FfmpegNotFoundError extends CidcastError {
  override readonly name = 'FfmpegNotFoundError'
}

/** Where the binaries came from: `FFMPEG_PATH`/`FFPROBE_PATH`, the system PATH, or the npm-bundled builds. */
export type FfmpegSource = 'env' | 'system' | 'bundled'

/** A resolved ffmpeg/ffprobe pair; resolve once at start and inject it. */
export interface FfmpegBinary {
  /** Absolute path of ffmpeg. */
  ffmpeg: string
  /** Absolute path of ffprobe. */
  ffprobe: string
  /** ffmpeg's own version string, e.g. `5.1.9-0+deb12u1` or `N-47683-g0e8eb07980-static`. */
  version: string
  /** Major release (4, 5, 6, ...); from libavutil's major when the version string is a git build. */
  major: number
  source: FfmpegSource
  /** Goes into rendition keys: output bytes may differ between ffmpeg builds. */
  encoderFingerprint: string
}

/** The oldest system ffmpeg we prefer over the bundled 4.x build. */
export const MIN_SYSTEM_FFMPEG_MAJOR = 5

const VERSION_TIMEOUT_MS = 10_000

// libavutil's major bumps once per ffmpeg major since 3.x: 55 -> 3, 56 -> 4, 57 -> 5, 58 -> 6, 59 -> 7, 60 -> 8.
const LIBAVUTIL_TO_FFMPEG_MAJOR = 52

/** Parses the output of `ffmpeg -version` (or `ffprobe -version`); major is 0 when it cannot be told. */
export function parseFfmpegVersion (output: string): { version: string, major: number } {
  const match = /^ff(?:mpeg|probe) version (\S+)/m.exec(output)
  const version = match?.[1] ?? 'unknown'
  // Release builds: `5.1.9-0+deb12u1`, `n4.4`, `7.0.2-static`, `4.4.2-0ubuntu0.22.04.1`
  const release = /^n?(\d+)\.\d+/.exec(version)
  if (release != null) return { version, major: Number(release[1]) }
  // Git builds (`N-12345-g...`, `git-2020-...`) carry no release number: use libavutil's major instead
  const avutil = /^\s*libavutil\s+(\d+)\./m.exec(output)
  if (avutil != null) {
    const major = Number(avutil[1]) - LIBAVUTIL_TO_FFMPEG_MAJOR
    return { version, major: major > 0 ? major : 0 }
  }
  return { version, major: 0 }
}

/** The fingerprint of an ffmpeg build for rendition keys, e.g. `ffmpeg-5.1.9-0+deb12u1`. */
export function encoderFingerprint (version: string): string {
  // Keep it to characters that are safe in keys, file names and logs
  return `ffmpeg-${version.replace(/[^A-Za-z0-9._+-]/g, '_')}`
}

const cache = new Map<string, Promise<FfmpegBinary>>()

/**
 * Finds ffmpeg and ffprobe: `FFMPEG_PATH`/`FFPROBE_PATH` first, else a system ffmpeg of major >= 5 on PATH,
 * else the binaries bundled in `@ffmpeg-installer/ffmpeg` and `@ffprobe-installer/ffprobe`.
 * The result is cached per process (per distinct FFMPEG_PATH, FFPROBE_PATH and PATH).
 */
export async function resolveFfmpeg (env: NodeJS.ProcessEnv = process.env): Promise<FfmpegBinary> {
  const key = [env.FFMPEG_PATH ?? '', env.FFPROBE_PATH ?? '', env.PATH ?? ''].join('\0')
  let pending = cache.get(key)
  if (pending == null) {
    pending = resolveUncached(env)
    cache.set(key, pending)
    // A failure is not cached: the operator may install ffmpeg and try again
    pending.catch(() => cache.delete(key))
  }
  return pending
}

async function resolveUncached (env: NodeJS.ProcessEnv): Promise<FfmpegBinary> {
  const searchPath = env.PATH ?? ''
  const fromEnv = await resolveFromEnv(env, searchPath)
  if (fromEnv != null) return fromEnv

  const tried: string[] = []
  const systemFfmpeg = await findOnPath('ffmpeg', searchPath)
  if (systemFfmpeg != null) {
    const parsed = await runVersion(systemFfmpeg).catch(() => undefined)
    if (parsed != null && parsed.major >= MIN_SYSTEM_FFMPEG_MAJOR) {
      const ffprobe = await usableFfprobe(await findOnPath('ffprobe', searchPath)) ?? await usableFfprobe(bundledPath('@ffprobe-installer/ffprobe'))
      if (ffprobe != null) return binary(systemFfmpeg, ffprobe, parsed, 'system')
      tried.push(`${systemFfmpeg} (no ffprobe found next to it or bundled)`)
    } else {
      tried.push(`${systemFfmpeg} (${parsed == null ? 'does not run' : `version ${parsed.version} is older than ${MIN_SYSTEM_FFMPEG_MAJOR}`})`)
    }
  } else {
    tried.push('ffmpeg on PATH (none)')
  }

  const bundledFfmpeg = bundledPath('@ffmpeg-installer/ffmpeg')
  const bundledFfprobe = bundledPath('@ffprobe-installer/ffprobe')
  if (bundledFfmpeg != null && bundledFfprobe != null) {
    const [parsed, ffprobe] = await Promise.all([
      runVersion(bundledFfmpeg).catch(() => undefined),
      usableFfprobe(bundledFfprobe)
    ])
    if (parsed != null && ffprobe != null) return binary(bundledFfmpeg, ffprobe, parsed, 'bundled')
  }
  tried.push(`bundled ${bundledFfmpeg ?? '@ffmpeg-installer/ffmpeg (not installed)'}`)
  throw new FfmpegNotFoundError(`no usable ffmpeg: set FFMPEG_PATH and FFPROBE_PATH or install ffmpeg >= ${MIN_SYSTEM_FFMPEG_MAJOR}; tried ${tried.join(', ')}`)
}

async function resolveFromEnv (env: NodeJS.ProcessEnv, searchPath: string): Promise<FfmpegBinary | undefined> {
  const ffmpegSetting = nonEmpty(env.FFMPEG_PATH)
  const ffprobeSetting = nonEmpty(env.FFPROBE_PATH)
  if (ffmpegSetting == null && ffprobeSetting == null) return undefined

  const ffmpeg = ffmpegSetting == null ? undefined : await locate(ffmpegSetting, searchPath)
  if (ffmpegSetting != null && ffmpeg == null) throw new InvalidConfigError(`FFMPEG_PATH: ${ffmpegSetting} is not an executable file`)
  const ffprobe = ffprobeSetting == null ? undefined : await locate(ffprobeSetting, searchPath)
  if (ffprobeSetting != null && ffprobe == null) throw new InvalidConfigError(`FFPROBE_PATH: ${ffprobeSetting} is not an executable file`)

  // Only one of the two was set: take the other from the same folder (a build ships both), else search as usual
  const finalFfmpeg = ffmpeg ?? await executable(join(dirname(ffprobe as string), 'ffmpeg')) ?? await findOnPath('ffmpeg', searchPath) ?? bundledPath('@ffmpeg-installer/ffmpeg')
  const finalFfprobe = ffprobe ?? await executable(join(dirname(ffmpeg as string), 'ffprobe')) ?? await findOnPath('ffprobe', searchPath) ?? bundledPath('@ffprobe-installer/ffprobe')
  if (finalFfmpeg == null) throw new InvalidConfigError('FFMPEG_PATH: not set and no ffmpeg found to go with FFPROBE_PATH')
  if (finalFfprobe == null) throw new InvalidConfigError('FFPROBE_PATH: not set and no ffprobe found to go with FFMPEG_PATH')

  const [parsed, probeOk] = await Promise.all([
    runVersion(finalFfmpeg).catch(() => undefined),
    usableFfprobe(finalFfprobe)
  ])
  // An explicit setting is honoured whatever its version; it only has to run
  if (parsed == null) throw new InvalidConfigError(`FFMPEG_PATH: ${finalFfmpeg} does not run as ffmpeg (-version failed)`)
  if (probeOk == null) throw new InvalidConfigError(`FFPROBE_PATH: ${finalFfprobe} does not run as ffprobe (-version failed)`)
  return binary(finalFfmpeg, finalFfprobe, parsed, 'env')
}

function binary (ffmpeg: string, ffprobe: string, parsed: { version: string, major: number }, source: FfmpegSource): FfmpegBinary {
  return { ffmpeg, ffprobe, version: parsed.version, major: parsed.major, source, encoderFingerprint: encoderFingerprint(parsed.version) }
}

function nonEmpty (value: string | undefined): string | undefined {
  return value == null || value.trim() === '' ? undefined : value
}

/** A setting is a path (absolute or relative to the working folder) or a bare name looked up on PATH. */
async function locate (setting: string, searchPath: string): Promise<string | undefined> {
  if (isAbsolute(setting) || setting.includes('/')) return executable(resolve(setting))
  return findOnPath(setting, searchPath)
}

/** The first executable file called `name` in the folders of `searchPath` (a PATH value). */
export async function findOnPath (name: string, searchPath: string): Promise<string | undefined> {
  for (const dir of searchPath.split(delimiter)) {
    if (dir === '') continue
    const found = await executable(resolve(dir, name))
    if (found != null) return found
  }
  return undefined
}

async function executable (path: string): Promise<string | undefined> {
  try {
    if (!(await stat(path)).isFile()) return undefined
    await access(path, constants.X_OK)
    return path
  } catch {
    return undefined
  }
}

async function usableFfprobe (path: string | undefined): Promise<string | undefined> {
  if (path == null) return undefined
  const parsed = await runVersion(path).catch(() => undefined)
  return parsed == null ? undefined : path
}

function bundledPath (pkg: '@ffmpeg-installer/ffmpeg' | '@ffprobe-installer/ffprobe'): string | undefined {
  try {
    // Both packages are CommonJS and throw (sometimes a bare string) when the platform binary is missing
    const { path } = createRequire(import.meta.url)(pkg) as { path?: unknown }
    return typeof path === 'string' ? path : undefined
  } catch {
    return undefined
  }
}

/** Runs `<binary> -version` (no shell) and parses it; rejects if it does not run or print a version. */
async function runVersion (path: string): Promise<{ version: string, major: number }> {
  const output = await new Promise<string>((resolve, reject) => {
    execFile(path, ['-version'], { timeout: VERSION_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (err, stdout) => {
      if (err != null) reject(err)
      else resolve(stdout)
    })
  })
  const parsed = parseFfmpegVersion(output)
  if (parsed.version === 'unknown') throw new Error(`${path} -version printed no version`)
  return parsed
}
