import { withHTTP } from '@helia/http'
import { createVerifiedFetchWithHelia } from '@helia/verified-fetch'
import { createHeliaLight } from 'helia'

/**
 * A verified-fetch whose only block source is the gateway at `url` (every block checked against its CID), sending
 * `headers` with each of its requests (the main server's gateway reads for a credential: `bearer(token)`).
 */
export async function verifiedFetchVia (url: string, headers: Record<string, string> = {}): Promise<{ fetch: Awaited<ReturnType<typeof createVerifiedFetchWithHelia>>, stop: () => Promise<void> }> {
  const client = withHTTP(createHeliaLight(), {
    delegatedRouters: [],
    recursiveGateways: [url],
    allowLocal: true,
    allowInsecure: true,
    transformRequestInit: init => ({ ...init, headers: { ...Object.fromEntries(new Headers(init.headers)), ...headers } })
  })
  // with a gateway as the only block source, provider look-ups hang unless some router answers (PITFALLS)
  client.addRouter({ name: 'no-providers', async * findProviders () {} })
  await client.start()
  const fetch = await createVerifiedFetchWithHelia(client)
  return { fetch, stop: async () => { await fetch.stop(); await client.stop() } }
}
