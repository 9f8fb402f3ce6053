// The userspace port proxy against real TCP and UDP echo servers on loopback.
import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import {createSocket, type Socket as UdpSocket} from 'node:dgram'
import {connect, createServer, type Server, type Socket} from 'node:net'

import {freeLoopbackPort, hostHasIpv6Loopback} from '../../src/daemon/ports/loopback.js'
import {ProxyTransport} from '../../src/daemon/ports/proxy-transport.js'
import type {ForwardHandle} from '../../src/daemon/ports/transports.js'
import {rejection} from '../helpers/rejection.js'

/** Echoes every byte and ends its side only after the client ended its own (like a server answering after EOF). */
async function tcpEchoServer(): Promise<{server: Server; port: number}> {
  const server = createServer({allowHalfOpen: true}, (socket) => {
    socket.on('error', () => {})
    socket.pipe(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {server, port: (server.address() as {port: number}).port}
}

/** Sends a payload, half-closes and collects everything until the other side ends. */
function tcpExchange(port: number, payload: Buffer, host = '127.0.0.1'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({port, host, allowHalfOpen: true})
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('end', () => {
      socket.end()
      resolve(Buffer.concat(chunks))
    })
    socket.on('error', reject)
    socket.end(payload)
  })
}

function connected(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({port, host})
    socket.once('connect', () => resolve(socket))
    socket.once('error', reject)
  })
}

function listenable(port: number, host = '127.0.0.1'): Promise<boolean> {
  const server = createServer()
  return new Promise((resolve) => {
    server.once('error', () => resolve(false))
    server.listen({port, host, exclusive: true}, () => server.close(() => resolve(true)))
  })
}

/** Replies with what it got and remembers which source ports it heard from. */
async function udpEchoServer(): Promise<{socket: UdpSocket; port: number; sources: Set<number>}> {
  const socket = createSocket('udp4')
  const sources = new Set<number>()
  socket.on('message', (message, from) => {
    sources.add(from.port)
    socket.send(message, from.port, from.address)
  })
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  return {socket, port: socket.address().port, sources}
}

async function udpClient(): Promise<UdpSocket> {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  return socket
}

function udpAsk(client: UdpSocket, port: number, message: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no UDP reply to ${message}`)), 2000)
    client.once('message', (reply) => {
      clearTimeout(timer)
      resolve(reply.toString())
    })
    client.send(message, port, host)
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('port proxy (TCP)', function () {
  this.timeout(20_000)
  let echo: {server: Server; port: number}
  let handle: ForwardHandle | undefined

  before(async () => {
    echo = await tcpEchoServer()
  })
  afterEach(async () => {
    await handle?.close()
    handle = undefined
  })
  after(() => echo.server.close())

  const proxyTo = (port: number) => new ProxyTransport('127.0.0.1', () => port)

  it('forwards bytes both ways and passes a half-close through', async () => {
    const hostPort = await freeLoopbackPort('tcp')
    handle = await proxyTo(echo.port).open({proto: 'tcp', listenAddress: '127.0.0.1', hostPort})
    expect((await tcpExchange(hostPort, Buffer.from('hello'))).toString()).to.equal('hello')
  })

  it('carries a 5 MB payload intact', async () => {
    const hostPort = await freeLoopbackPort('tcp')
    handle = await proxyTo(echo.port).open({proto: 'tcp', listenAddress: '127.0.0.1', hostPort})
    const payload = randomBytes(5 * 1024 * 1024)
    const answer = await tcpExchange(hostPort, payload)
    expect(answer.length).to.equal(payload.length)
    expect(answer.equals(payload)).to.equal(true)
  })

  it('a client that half-closed and reads slowly still gets the last bytes of a large answer', async () => {
    // The upstream ends while the proxy still holds data for the client: that data must be flushed, not dropped.
    const payload = randomBytes(16 * 1024 * 1024)
    const sender = createServer((socket) => {
      socket.on('error', () => {})
      socket.once('data', () => socket.end(payload))
    })
    await new Promise<void>((resolve) => sender.listen(0, '127.0.0.1', resolve))
    try {
      const hostPort = await freeLoopbackPort('tcp')
      handle = await proxyTo((sender.address() as {port: number}).port).open({proto: 'tcp', listenAddress: '127.0.0.1', hostPort})
      const answer = await new Promise<Buffer>((resolve, reject) => {
        const socket = connect({port: hostPort, host: '127.0.0.1', allowHalfOpen: true})
        const chunks: Buffer[] = []
        socket.on('error', reject)
        socket.pause()
        socket.end('send it')
        setTimeout(() => {
          socket.on('data', (chunk: Buffer) => chunks.push(chunk))
          socket.on('end', () => resolve(Buffer.concat(chunks)))
          socket.resume()
        }, 500)
      })
      expect(answer.length).to.equal(payload.length)
      expect(answer.equals(payload)).to.equal(true)
    } finally {
      sender.close()
    }
  })

  it('forwards to the same port number by default', async function () {
    // The echo server's own port is the only port number that is both free on ::1 and served on 127.0.0.1.
    if (!(await hostHasIpv6Loopback())) this.skip()
    handle = await new ProxyTransport('127.0.0.1').open({proto: 'tcp', listenAddress: '::1', hostPort: echo.port})
    expect((await tcpExchange(echo.port, Buffer.from('same port'), '::1')).toString()).to.equal('same port')
  })

  it('listens on [::1] when asked', async function () {
    if (!(await hostHasIpv6Loopback())) this.skip()
    const hostPort = await freeLoopbackPort('tcp', '::1')
    handle = await proxyTo(echo.port).open({proto: 'tcp', listenAddress: '::1', hostPort})
    expect((await tcpExchange(hostPort, Buffer.from('v6'), '::1')).toString()).to.equal('v6')
    expect(await listenable(hostPort, '127.0.0.1'), '127.0.0.1 stays untouched').to.equal(true)
  })

  it('close() ends live connections and frees the port', async () => {
    const hostPort = await freeLoopbackPort('tcp')
    const opened = await proxyTo(echo.port).open({proto: 'tcp', listenAddress: '127.0.0.1', hostPort})
    const client = await connected(hostPort)
    client.on('error', () => {})
    const firstReply = new Promise((resolve) => client.once('data', resolve))
    client.write('ping')
    await firstReply
    const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()))
    await opened.close()
    await clientClosed
    expect(await listenable(hostPort)).to.equal(true)
  })

  it('refuses a port that is already in use, naming it', async () => {
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const hostPort = (holder.address() as {port: number}).port
    try {
      const error = await rejection(proxyTo(echo.port).open({proto: 'tcp', listenAddress: '127.0.0.1', hostPort}))
      expect(error.message).to.equal(`127.0.0.1:${hostPort}/tcp is in use on the host`)
    } finally {
      holder.close()
    }
  })

  it('a refused upstream closes the client connection and is reported, not thrown', async () => {
    const deadPort = await freeLoopbackPort('tcp')
    const hostPort = await freeLoopbackPort('tcp')
    const errors: Error[] = []
    handle = await new ProxyTransport('127.0.0.1', () => deadPort, {onError: (e) => errors.push(e)})
      .open({proto: 'tcp', listenAddress: '127.0.0.1', hostPort})
    const client = await connected(hostPort)
    client.on('error', () => {})
    await new Promise<void>((resolve) => client.once('close', () => resolve()))
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).to.include('ECONNREFUSED')
  })
})

describe('port proxy (UDP)', function () {
  this.timeout(20_000)
  let echo: {socket: UdpSocket; port: number; sources: Set<number>}
  let handle: ForwardHandle | undefined
  const clients: UdpSocket[] = []

  beforeEach(async () => {
    echo = await udpEchoServer()
  })
  afterEach(async () => {
    await handle?.close()
    handle = undefined
    for (const client of clients.splice(0)) client.close()
    echo.socket.close()
  })

  async function open(options = {}) {
    const hostPort = await freeLoopbackPort('udp')
    handle = await new ProxyTransport('127.0.0.1', () => echo.port, options).open({proto: 'udp', listenAddress: '127.0.0.1', hostPort})
    return hostPort
  }

  async function client() {
    const socket = await udpClient()
    clients.push(socket)
    return socket
  }

  it('a client gets its reply through the proxy', async () => {
    const hostPort = await open()
    expect(await udpAsk(await client(), hostPort, 'dns?')).to.equal('dns?')
  })

  it('two clients each get their own replies, over upstream sockets of their own', async () => {
    const hostPort = await open()
    const [a, b] = [await client(), await client()]
    const answers = await Promise.all([udpAsk(a, hostPort, 'from a'), udpAsk(b, hostPort, 'from b')])
    expect(answers).to.deep.equal(['from a', 'from b'])
    expect(await udpAsk(a, hostPort, 'a again')).to.equal('a again')
    expect(echo.sources.size).to.equal(2)
  })

  it('an idle client loses its upstream socket and gets a new one when it speaks again', async () => {
    const hostPort = await open({udpIdleMs: 50})
    const a = await client()
    expect(await udpAsk(a, hostPort, 'one')).to.equal('one')
    await sleep(200)
    expect(await udpAsk(a, hostPort, 'two')).to.equal('two')
    expect(echo.sources.size).to.equal(2)
  })

  it('beyond the client cap the oldest client is evicted, and still served when it returns', async () => {
    const hostPort = await open({udpMaxClients: 1})
    const [a, b] = [await client(), await client()]
    expect(await udpAsk(a, hostPort, 'a1')).to.equal('a1')
    expect(await udpAsk(b, hostPort, 'b1')).to.equal('b1')
    expect(await udpAsk(a, hostPort, 'a2')).to.equal('a2')
    expect(echo.sources.size).to.equal(3)
  })

  it('close() frees the port', async () => {
    const hostPort = await open()
    expect(await udpAsk(await client(), hostPort, 'x')).to.equal('x')
    await handle!.close()
    handle = undefined
    const again = createSocket('udp4')
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject)
      again.bind({port: hostPort, address: '127.0.0.1', exclusive: true}, resolve)
    })
    again.close()
  })

  it('refuses a port that is already in use, naming it', async () => {
    const holder = await udpClient()
    clients.push(holder)
    const hostPort = holder.address().port
    const error = await rejection(new ProxyTransport('127.0.0.1', () => echo.port).open({proto: 'udp', listenAddress: '127.0.0.1', hostPort}))
    expect(error.message).to.equal(`127.0.0.1:${hostPort}/udp is in use on the host`)
  })
})
