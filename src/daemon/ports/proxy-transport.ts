// A userspace proxy from a host loopback port to a TCP/UDP target (the VM's IP in bridged mode, or a
// slirp forward on 127.0.0.1 for [::1] in user mode). Bytes are piped as they are; no protocol parsing.
import {createSocket, type RemoteInfo, type Socket as UdpSocket} from 'node:dgram'
import {connect, createServer, isIPv6, type Server, type Socket} from 'node:net'

import {bindFailure} from './loopback.js'
import type {ForwardHandle, ForwardSpec, ForwardTransport} from './transports.js'

export interface ProxyTransportOptions {
  /** A UDP client that sends nothing and gets nothing back for this long loses its upstream socket. */
  udpIdleMs?: number
  /** Upstream sockets per UDP forward; the least recently active client is dropped beyond this. */
  udpMaxClients?: number
  /** Errors on a live forward after it opened (a refused upstream, a reset). Bind failures reject `open`. */
  onError?: (error: Error) => void
}

interface Target {
  host: string
  port: number
}

export class ProxyTransport implements ForwardTransport {
  constructor(
    private readonly targetHost: string,
    private readonly targetPortFor: (hostPort: number) => number = (hostPort) => hostPort,
    private readonly options: ProxyTransportOptions = {},
  ) {}

  open(spec: ForwardSpec): Promise<ForwardHandle> {
    const target = {host: this.targetHost, port: this.targetPortFor(spec.hostPort)}
    return spec.proto === 'tcp' ? openTcpProxy(spec, target, this.options) : openUdpProxy(spec, target, this.options)
  }
}

async function openTcpProxy(spec: ForwardSpec, target: Target, options: ProxyTransportOptions): Promise<ForwardHandle> {
  const sockets = new Set<Socket>()
  // Half-close must pass through: a client that shuts its write side still reads the reply.
  const server = createServer({allowHalfOpen: true}, (client) => {
    const upstream = connect({host: target.host, port: target.port, allowHalfOpen: true})
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.setNoDelay(true)
      socket.on('close', () => sockets.delete(socket))
    }
    const fail = (error: Error) => {
      options.onError?.(error)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', fail)
    upstream.on('error', fail)
    // One side gone: let the other flush what it already received before it goes too.
    client.on('close', () => destroyAfterFlush(upstream))
    upstream.on('close', () => destroyAfterFlush(client))
    // pipe() carries backpressure both ways and turns each side's EOF into end() of the other.
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await listen(server, spec)
  server.on('error', (error) => options.onError?.(error))
  return {
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function listen(server: Server, spec: ForwardSpec): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(bindFailure(error, spec.proto, spec.listenAddress, spec.hostPort)))
    server.listen({host: spec.listenAddress, port: spec.hostPort, exclusive: true}, () => {
      server.removeAllListeners('error')
      resolve()
    })
  })
}

function destroyAfterFlush(socket: Socket): void {
  if (socket.destroyed) return
  if (socket.writableFinished) {
    socket.destroy()
    return
  }
  socket.once('finish', () => socket.destroy())
  if (!socket.writableEnded) socket.end()
}

interface UdpClient {
  upstream: UdpSocket
  /** Datagrams that arrived before the upstream socket finished connecting. */
  queued: Buffer[] | undefined
  idleTimer: NodeJS.Timeout
}

/** Datagrams queued per client while its upstream socket connects; more than this is dropped, as UDP may. */
const MAX_QUEUED_DATAGRAMS = 64

async function openUdpProxy(spec: ForwardSpec, target: Target, options: ProxyTransportOptions): Promise<ForwardHandle> {
  const idleMs = options.udpIdleMs ?? 60_000
  const maxClients = Math.max(1, options.udpMaxClients ?? 1024)
  const listener = createSocket({type: spec.listenAddress === '::1' ? 'udp6' : 'udp4'})
  // Keyed by client address:port; Map order is activity order, so the first entry is the one to evict.
  const clients = new Map<string, UdpClient>()

  const drop = (key: string) => {
    const client = clients.get(key)
    if (!client) return
    clients.delete(key)
    clearTimeout(client.idleTimer)
    client.upstream.close()
  }

  const touch = (key: string, client: UdpClient) => {
    clients.delete(key)
    clients.set(key, client)
    client.idleTimer.refresh()
  }

  const clientFor = (key: string, from: RemoteInfo): UdpClient => {
    const existing = clients.get(key)
    if (existing) return existing
    while (clients.size >= maxClients) drop(clients.keys().next().value as string)
    // A connected socket per client: replies come back to the right client and only from the target.
    const upstream = createSocket({type: isIPv6(target.host) ? 'udp6' : 'udp4'})
    const client: UdpClient = {upstream, queued: [], idleTimer: setTimeout(() => drop(key), idleMs)}
    client.idleTimer.unref()
    upstream.on('message', (reply) => {
      if (clients.get(key) !== client) return
      touch(key, client)
      listener.send(reply, from.port, from.address)
    })
    // A refused or unreachable target surfaces here; the next datagram from this client starts afresh.
    upstream.on('error', (error) => {
      options.onError?.(error)
      if (clients.get(key) === client) drop(key)
    })
    upstream.connect(target.port, target.host, () => {
      const queued = client.queued ?? []
      client.queued = undefined
      if (clients.get(key) === client) for (const datagram of queued) upstream.send(datagram)
    })
    clients.set(key, client)
    return client
  }

  listener.on('message', (datagram, from) => {
    const key = `${from.address}|${from.port}`
    const client = clientFor(key, from)
    touch(key, client)
    if (!client.queued) client.upstream.send(datagram)
    else if (client.queued.length < MAX_QUEUED_DATAGRAMS) client.queued.push(datagram)
  })

  await new Promise<void>((resolve, reject) => {
    listener.once('error', (error: NodeJS.ErrnoException) => {
      listener.close()
      reject(bindFailure(error, spec.proto, spec.listenAddress, spec.hostPort))
    })
    listener.bind({address: spec.listenAddress, port: spec.hostPort, exclusive: true}, () => {
      listener.removeAllListeners('error')
      resolve()
    })
  })
  listener.on('error', (error) => options.onError?.(error))

  return {
    async close() {
      for (const key of [...clients.keys()]) drop(key)
      await new Promise<void>((resolve) => listener.close(() => resolve()))
    },
  }
}
