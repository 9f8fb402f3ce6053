import {expect} from 'chai'
import {EventEmitter} from 'node:events'
import {createServer, type AddressInfo, type Server, type Socket} from 'node:net'

import {probeTcp} from '../src/live-check.js'

describe('live check (TCP connect)', () => {
  let server: Server
  let port: number

  before(async () => {
    server = createServer((socket) => socket.end())
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  })

  after(() => server.close())

  const target = (p: number) => ({network: 'n', container: 'c', ip: '127.0.0.1', port: p})

  it('an accepted connection is an answer', async () => {
    const result = await probeTcp(target(port))
    expect(result).to.include({answered: true, outcome: 'open', ip: '127.0.0.1', port})
  })

  it('a refused connection is an answer too: something at that address sent the refusal', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const freePort = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const result = await probeTcp(target(freePort))
    expect(result).to.include({answered: true, outcome: 'refused'})
  })

  it('silence until the timeout, or "unreachable", is no answer', async () => {
    const silent = () => Object.assign(new EventEmitter(), {destroy() {}}) as unknown as Socket
    const quiet = await probeTcp(target(80), 30, silent)
    expect(quiet).to.include({answered: false, outcome: 'timeout', detail: 'no answer within 30 ms'})
    const unreachable = () => {
      const socket = Object.assign(new EventEmitter(), {destroy() {}})
      setImmediate(() => socket.emit('error', Object.assign(new Error('connect EHOSTUNREACH'), {code: 'EHOSTUNREACH'})))
      return socket as unknown as Socket
    }
    expect(await probeTcp(target(80), 1000, unreachable)).to.include({answered: false, outcome: 'unreachable', detail: 'EHOSTUNREACH'})
  })
})
