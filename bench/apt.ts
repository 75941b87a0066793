import { execFile } from 'node:child_process'
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'

/**
 * The bench's reference tools (nginx, wrk) come from Debian's packages: installed with apt-get when the bench runs as
 * root and they are missing, so a fresh machine needs nothing done by hand.
 */

const INSTALL_TIMEOUT_MS = 300_000

async function isExecutable (path: string): Promise<boolean> {
  return await access(path, constants.X_OK).then(() => true, () => false)
}

async function run (file: string, args: string[], timeoutMs: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }, (err, _out, stderr) => {
      if (err == null) resolve()
      else reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim().split('\n').slice(-2).join(' | ') || err.message}`))
    })
  })
}

/**
 * Makes sure `binary` exists: installs Debian's `pkg` with apt-get when running as root and it is absent.
 * Resolves with why the figures needing it must be skipped, or undefined when it is there.
 */
export async function ensureDebianPackage (binary: string, pkg: string, log: (line: string) => void): Promise<string | undefined> {
  if (await isExecutable(binary)) return undefined
  if (process.getuid?.() !== 0) return `${binary} is missing and installing it needs root`
  log(`${binary} is missing: installing ${pkg} with apt-get`)
  try {
    await run('apt-get', ['install', '-y', '--no-install-recommends', pkg], INSTALL_TIMEOUT_MS).catch(async () => {
      // a fresh machine may not have package lists yet
      await run('apt-get', ['update'], INSTALL_TIMEOUT_MS)
      await run('apt-get', ['install', '-y', '--no-install-recommends', pkg], INSTALL_TIMEOUT_MS)
    })
  } catch (err) {
    return `installing ${pkg} failed: ${(err as Error).message}`
  }
  return await isExecutable(binary) ? undefined : `${binary} is still missing after installing ${pkg}`
}
