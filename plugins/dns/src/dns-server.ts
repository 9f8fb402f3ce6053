// The responder on the wire: UDP and TCP on each listen address. TCP messages carry a two-byte length
// prefix (RFC 1035 4.2.2); a connection may send several queries, in pieces or together, and gets each
// answer as it is ready (RFC 7766). Idle connections are closed, as are oversized or malformed streams.
import {createSocket, type Socket as UdpSocket} from 'node:dgram'
import {isIP, createServer, type Server, type Socket} from 'node:net'

import type {Responder} from './responder.js'
import {formatUpstream} from './settings.js'
import type {SourceFilter} from './source-filter.js'

export interface ListenAddress {
  host: string
  /** 0 picks a free port (tests); UDP and TCP then share the port UDP got. */
  port: number
  /** Sockets already bound there (by the root helper, for port 53 in a user's VM): UDP bound, TCP listening. */
  fds?: {udp: number; tcp: number}
}

export interface DnsServer {
  /** Where it listens, with the actual ports. */
  readonly addresses: ListenAddress[]
  close(): Promise<void>
}

const TCP_IDLE_MS = 10_000
const MAX_TCP_CONNECTIONS = 128

function bindUdp(address: ListenAddress, responder: Responder, allowed: SourceFilter, onError: (error: Error) => void): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({type: isIP(address.host) === 6 ? 'udp6' : 'udp4'})
    socket.once('error', reject)
    socket.on('message', (message, from) => {
      if (!allowed(from.address)) return // no answer at all: not even a refusal to amplify
      responder.respond(message, 'udp').then((reply) => {
        if (reply) socket.send(reply, from.port, from.address)
      }, onError)
    })
    socket.bind(address.fds ? {fd: address.fds.udp, exclusive: true} : {address: address.host, port: address.port, exclusive: true}, () => {
      socket.off('error', reject)
      socket.on('error', onError)
      resolve(socket)
    })
  })
}

function serveTcpConnection(connection: Socket, responder: Responder, allowed: SourceFilter, onError: (error: Error) => void): void {
  if (!allowed(connection.remoteAddress ?? '')) {
    connection.destroy()
    return
  }
  let buffer: Buffer = Buffer.alloc(0)
  connection.setTimeout(TCP_IDLE_MS, () => connection.destroy())
  connection.on('error', () => connection.destroy())
  connection.on('data', (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
    while (buffer.length >= 2) {
      const length = buffer.readUInt16BE(0)
      if (buffer.length < 2 + length) return
      const message = buffer.subarray(2, 2 + length)
      buffer = buffer.subarray(2 + length)
      responder.respond(Buffer.from(message), 'tcp').then((reply) => {
        if (!reply || connection.destroyed) return
        const prefix = Buffer.alloc(2)
        prefix.writeUInt16BE(reply.length)
        connection.write(Buffer.concat([prefix, reply]))
      }, (error: Error) => {
        onError(error)
        connection.destroy()
      })
    }
  })
}

function listenTcp(address: ListenAddress, responder: Responder, allowed: SourceFilter, onError: (error: Error) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((connection) => serveTcpConnection(connection, responder, allowed, onError))
    server.maxConnections = MAX_TCP_CONNECTIONS
    server.once('error', reject)
    server.listen(address.fds ? {fd: address.fds.tcp, exclusive: true} : {host: address.host, port: address.port, exclusive: true}, () => {
      server.off('error', reject)
      server.on('error', onError)
      resolve(server)
    })
  })
}

/** Fresh ports tried for port 0 when the one the kernel picked for UDP is taken for TCP. */
const EPHEMERAL_ATTEMPTS = 10

/**
 * Listens on every address (UDP and TCP) or on none: a failure closes what was opened and rejects. Only
 * sources `allowed` passes are served; a UDP query from anyone else gets no answer, a TCP connection is closed.
 */
export async function serveDns(addresses: ListenAddress[], responder: Responder, allowed: SourceFilter, onError: (error: Error) => void = () => {}): Promise<DnsServer> {
  const udp: UdpSocket[] = []
  const tcp: Server[] = []
  const bound: ListenAddress[] = []
  const close = async () => {
    for (const socket of udp) socket.close()
    await Promise.all(tcp.map((server) => new Promise<void>((resolve) => {
      server.close(() => resolve())
      // Established connections would keep close() waiting until they go idle.
      ;(server as Server & {closeAllConnections?: () => void}).closeAllConnections?.()
    })))
  }
  try {
    for (const address of addresses) {
      // Port 0 asks for any port: the kernel picks a free UDP port, which another program may hold for
      // TCP, so a few fresh picks are tried before giving up. A fixed port is tried once.
      const attempts = address.port === 0 ? EPHEMERAL_ATTEMPTS : 1
      for (let attempt = 1; ; attempt++) {
        const socket = await bindUdp(address, responder, allowed, onError).catch((error: NodeJS.ErrnoException) => {
          throw listenError(address, 'udp', error)
        })
        const port = socket.address().port
        const server = await listenTcp({...address, port}, responder, allowed, onError).catch((error: NodeJS.ErrnoException) => {
          socket.close()
          if (error.code === 'EADDRINUSE' && attempt < attempts) return undefined
          throw listenError({host: address.host, port}, 'tcp', error)
        })
        if (!server) continue
        udp.push(socket)
        tcp.push(server)
        bound.push({host: address.host, port})
        break
      }
    }
  } catch (error) {
    await close()
    throw error
  }
  return {addresses: bound, close}
}

function listenError(address: ListenAddress, protocol: string, error: NodeJS.ErrnoException): Error {
  const where = `${formatUpstream(address)}/${protocol}`
  if (error.code === 'EADDRINUSE') return new Error(`cannot listen on ${where}: another program already uses it (another DNS server such as dnsmasq?)`)
  if (error.code === 'EADDRNOTAVAIL') return new Error(`cannot listen on ${where}: the address is not on this host (is the VM's bridge up?)`)
  if (error.code === 'EACCES') return new Error(`cannot listen on ${where}: permission denied (a user's VM gets the DNS port from the root helper)`)
  return new Error(`cannot listen on ${where}: ${error.message}`)
}
