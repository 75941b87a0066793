import { createApiClient } from '../api-client.ts'

export interface KeysCommandOptions {
  server: string
  out?: NodeJS.WritableStream
}

/** What `POST /api/v1/keys/rotate` answers: key ids and when rotated-out keys stop (never a key itself). */
interface Rotated {
  key: { id: string }
  keys: Array<{ id: string, expiresAt?: string }>
  nudged: number
}

/** `cidcast keys rotate`: a new stream signing key; prints it, each older key with when it stops, and the nodes told. */
export async function rotateKeysCommand (options: KeysCommandOptions): Promise<void> {
  const out = options.out ?? process.stdout
  const rotated = await createApiClient(options.server).request<Rotated>('POST', '/api/v1/keys/rotate')
  out.write(`rotated: new key ${rotated.key.id}\n`)
  for (const key of rotated.keys) {
    if (key.id !== rotated.key.id && key.expiresAt != null) out.write(`key ${key.id} verifies the tokens it signed until ${key.expiresAt}\n`)
  }
  out.write(`${rotated.nudged} online node${rotated.nudged === 1 ? '' : 's'} asked to fetch the new key now; the others get it with their next heartbeat\n`)
}
