import { Command, InvalidArgumentError } from 'commander'
import { createApiClient } from '../api-client.ts'

/*
 * `cidcast play MEDIA [--node NAME] [--ttl SECONDS]`: a signed play URL for the signed-in user, printed alone on
 * stdout so a player takes it as it is (`mpv "$(cidcast play ID --node den)"`); when it expires goes to stderr.
 */

interface PlayOptions {
  server: string
  node?: string
  ttl?: number
}

/** `--ttl`: whole seconds; the server checks the range. */
function seconds (text: string): number {
  if (!/^\d{1,9}$/.test(text)) throw new InvalidArgumentError('a whole number of seconds')
  return Number(text)
}

/** The `play` verb. */
export function playCommand (defaultServer: string, io: { out?: NodeJS.WritableStream, err?: NodeJS.WritableStream } = {}): Command {
  return new Command('play')
    .description('print a signed URL of a media\'s master playlist for any HLS player (on a CDN node with --node); it plays without other credentials until it expires')
    .argument('<media-id>', 'the media to play')
    .option('--node <name>', 'the CDN node to play from (name, label or peer ID); the main server itself without it')
    .option('--ttl <seconds>', 'how long the URL lives (default: the server\'s playUrlSeconds, 6 h)', seconds)
    .option('--server <url>', 'main server URL (env CIDCAST_SERVER)', defaultServer)
    .action(async (id: string, opts: PlayOptions) => {
      const query = new URLSearchParams()
      if (opts.node !== undefined) query.set('node', opts.node)
      if (opts.ttl !== undefined) query.set('ttl', String(opts.ttl))
      const suffix = query.size > 0 ? `?${query.toString()}` : ''
      const played = await createApiClient(opts.server).request<{ url: string, expiresAt: string }>('GET', `/api/v1/media/${encodeURIComponent(id)}/play${suffix}`)
      ;(io.out ?? process.stdout).write(`${played.url}\n`)
      ;(io.err ?? process.stderr).write(`expires ${played.expiresAt}\n`)
    })
}
