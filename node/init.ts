import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CONFIG_FILE, generateSwarmKey, parseSwarmKey, SWARM_KEY_FILE, writeSwarmKey } from '../core/config/index.ts'

/** Creates a data folder with a config file and a new Kubo-format swarm key; refuses to replace an existing key. */
export async function initDataFolder (data: string): Promise<{ swarmKeyPath: string }> {
  await mkdir(data, { recursive: true, mode: 0o700 })
  const swarmKeyPath = join(data, SWARM_KEY_FILE)
  await writeSwarmKey(swarmKeyPath, generateSwarmKey(), { overwrite: false })
  await writeFile(join(data, CONFIG_FILE), JSON.stringify({}, null, 2) + '\n', { flag: 'wx' }).catch(err => {
    if (err.code !== 'EEXIST') throw err
  })
  return { swarmKeyPath }
}

/** Opens a data folder, initialising it first when it has no swarm key yet (as `ipfs daemon --init` does). */
export async function ensureDataFolder (data: string): Promise<{ swarmKey: Uint8Array }> {
  const swarmKeyPath = join(data, SWARM_KEY_FILE)
  let text: string
  try {
    text = await readFile(swarmKeyPath, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    await initDataFolder(data)
    text = await readFile(swarmKeyPath, 'utf8')
  }
  return { swarmKey: parseSwarmKey(text) }
}
