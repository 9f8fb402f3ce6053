// The host docker socket: a unix socket (0660, never 0777) whose every connection is piped to the guest's
// dockerd over TLS with dlite's client certificate. Raw byte piping keeps hijacked streams (attach, exec,
// build) working without any HTTP parsing. Both sides allow half-close: the docker CLI shuts its write
// side of an attach stream when stdin ends and still reads the container's output after that.
import {mkdirSync, rmSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import {dirname} from 'node:path'
import {connect as tlsConnect, createSecureContext, type ConnectionOptions} from 'node:tls'

import {restrictSocket} from './socket-access.js'

export interface DockerSocketOptions {
  path: string
  /** Group that may use the socket (the `docker` group or the installing user's group); root otherwise. */
  gid?: number
  target: {host: string; port: number}
  tls: Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'servername'>
  onError?: (error: Error) => void
}

export interface DockerSocket {
  server: Server
  close(): Promise<void>
}

const CLIENT_HANG_UPS = new Set(['ECONNRESET', 'EPIPE'])

export async function serveDockerSocket(options: DockerSocketOptions): Promise<DockerSocket> {
  mkdirSync(dirname(options.path), {recursive: true, mode: 0o755})
  rmSync(options.path, {force: true})
  const connections = new Set<Socket>()
  // One TLS context for every connection: a context per connection re-parses the CA, certificate and key
  // each time, which cost a third of the proxy's CPU and ~25 MiB of native memory the allocator kept
  // (measured with 40,000 proxied requests; the JS heap stayed flat either way).
  const secureContext = createSecureContext({ca: options.tls.ca, cert: options.tls.cert, key: options.tls.key})
  const server = createServer({allowHalfOpen: true}, (client) => {
    connections.add(client)
    // allowHalfOpen is a documented tls.connect option that @types/node does not list yet.
    const upstream = tlsConnect({
      host: options.target.host,
      port: options.target.port,
      secureContext,
      allowHalfOpen: true,
      // The server certificate names the VM's IP and hostname; verify against them, never skip verification.
      servername: options.tls.servername,
    } as ConnectionOptions)
    connections.add(upstream)
    const closeBoth = (error?: Error) => {
      if (error) options.onError?.(error)
      client.destroy()
      upstream.destroy()
      connections.delete(client)
      connections.delete(upstream)
    }
    // a client that hung up mid-response is routine (an aborted docker command), not worth a log line each
    client.on('error', (error: NodeJS.ErrnoException) => closeBoth(CLIENT_HANG_UPS.has(error.code ?? '') ? undefined : error))
    upstream.on('error', closeBoth)
    client.on('close', () => closeBoth())
    upstream.on('close', () => closeBoth())
    client.pipe(upstream)
    upstream.pipe(client)
  })
  // Create the socket with no permissions for others from the first instant, then open it to the group.
  const previousUmask = process.umask(0o117)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.path, () => resolve())
    })
  } finally {
    process.umask(previousUmask)
  }
  // the owner only, unless a group was given (a root daemon serving its installing user's group)
  restrictSocket(options.path, options.gid)
  return {
    server,
    async close() {
      for (const socket of connections) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      rmSync(options.path, {force: true})
    },
  }
}
