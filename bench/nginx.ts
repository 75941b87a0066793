import { spawn } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../test/helpers/ports.ts'
import { ensureDebianPackage } from './apt.ts'

/**
 * nginx as the reference file server: Debian's package run as a child process with a generated config in a
 * temporary folder (two workers, sendfile, no access log), serving a folder of files.
 */

export const NGINX_PATH = '/usr/sbin/nginx'
const READY_TIMEOUT_MS = 10_000

export interface RunningNginx {
  /** `http://127.0.0.1:PORT` */
  url: string
  port: number
  /** The master and its workers, for CPU accounting. */
  pids: () => Promise<number[]>
  stop: () => Promise<void>
}

/** The ids of the processes whose parent is `ppid` (from /proc). */
async function childrenOf (ppid: number): Promise<number[]> {
  const found: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')
    // field 4 (ppid) is the second after the command name, which is in parentheses
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) found.push(Number(entry))
  }
  return found
}

/** Makes sure nginx is installed (Debian's `nginx-light`); resolves with why the nginx baseline must be skipped, or undefined when nginx is there. */
export async function ensureNginx (log: (line: string) => void): Promise<string | undefined> {
  return await ensureDebianPackage(NGINX_PATH, 'nginx-light', log)
}

async function accepts (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { resolve(false) })
  })
}

function config (dir: string, root: string, port: number): string {
  return `daemon off;
master_process on;
worker_processes 2;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  sendfile on;
  tcp_nopush on;
  access_log off;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types { video/iso.segment m4s; video/mp4 mp4; application/vnd.apple.mpegurl m3u8; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`
}

/** Starts nginx serving `root` (its folders must be readable by nginx's workers). */
export async function startNginx (root: string): Promise<RunningNginx> {
  const dir = await mkdtemp(join(tmpdir(), 'cidcast-bench-nginx-'))
  await mkdir(join(dir, 'logs'))
  const port = await freePort()
  await writeFile(join(dir, 'nginx.conf'), config(dir, root, port))
  // as root, the workers run as nobody: they must be able to enter the folders
  await chmod(dir, 0o755)
  // -e: without it nginx opens /var/log/nginx/error.log before it reads the config
  const child = spawn(NGINX_PATH, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'inherit'] })
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }); child.once('error', () => { resolve() }) })
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      // SIGTERM: nginx's fast shutdown; the master waits for its workers
      child.kill('SIGTERM')
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 5000)
      await exited
      clearTimeout(timer)
    }
    await rm(dir, { recursive: true, force: true })
  }
  const deadline = performance.now() + READY_TIMEOUT_MS
  while (!await accepts(port)) {
    if (child.exitCode !== null || child.signalCode !== null || performance.now() > deadline) {
      await stop()
      throw new Error(`nginx did not start on port ${port}`)
    }
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  const master = child.pid!
  return { url: `http://127.0.0.1:${port}`, port, pids: async () => [master, ...await childrenOf(master)], stop }
}
