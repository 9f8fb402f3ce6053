// Small facts about the host's loopback sockets that the transports and the forwarder share.
import {createSocket} from 'node:dgram'
import {createServer} from 'node:net'

import {formatHostPort, type LoopbackAddress, type PortProto} from './bindings.js'

/** `127.0.0.1:8080/tcp`, the name a forward goes by in logs and failures. */
export function describeForward(proto: PortProto, address: string, port: number): string {
  return `${formatHostPort(address, port)}/${proto}`
}

/** Turns a bind error into the reason a person reads in `status`, naming the port. */
export function bindFailure(error: NodeJS.ErrnoException, proto: PortProto, address: string, port: number): Error {
  const name = describeForward(proto, address, port)
  switch (error.code) {
    case 'EADDRINUSE':
      return new Error(`${name} is in use on the host`)
    case 'EACCES':
      return new Error(`${name} needs privileges to bind on the host`)
    case 'EADDRNOTAVAIL':
      return new Error(`${name} cannot be bound: the host has no ${address} address`)
    default:
      return new Error(`${name} cannot be bound on the host: ${error.message}`)
  }
}

/**
 * A port nobody uses right now on a loopback, found by binding port 0 and closing again. Another process
 * can take it in between, so callers must treat a later bind failure as "try another".
 */
export async function freeLoopbackPort(proto: PortProto, address: LoopbackAddress = '127.0.0.1'): Promise<number> {
  if (proto === 'udp') {
    const socket = createSocket(address === '::1' ? 'udp6' : 'udp4')
    return new Promise((resolve, reject) => {
      socket.once('error', reject)
      socket.bind({port: 0, address, exclusive: true}, () => {
        const {port} = socket.address()
        socket.close(() => resolve(port))
      })
    })
  }
  const server = createServer()
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({port: 0, host: address, exclusive: true}, () => {
      const {port} = server.address() as {port: number}
      server.close(() => resolve(port))
    })
  })
}

/** Whether [::1] can be listened on; hosts with IPv6 disabled have no ::1 and get IPv4 forwards only. */
export async function hostHasIpv6Loopback(): Promise<boolean> {
  const server = createServer()
  return new Promise((resolve) => {
    server.once('error', () => resolve(false))
    server.listen({port: 0, host: '::1', exclusive: true}, () => server.close(() => resolve(true)))
  })
}
