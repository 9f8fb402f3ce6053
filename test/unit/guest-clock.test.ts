// The host's clock for the guest: nothing is written before the guest's agent listens or while it is paused (it
// would be stale when read), a wall-clock jump and a resume are sent at once, and the time goes out periodically.
import {expect} from 'chai'
import {mkdtempSync, rmSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {GuestClock} from '../../src/daemon/guest-clock.js'

describe('guest clock', function () {
  this.timeout(10_000)
  let dir: string
  let server: Server
  let received: string[]
  let wall: number
  let mono: number
  let clock: GuestClock
  let peer: Promise<Socket>

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-clock-'))
    received = []
    wall = 1_800_000_000_000
    mono = 1000
    const path = join(dir, 'control.sock')
    peer = new Promise((resolve) => {
      server = createServer((socket) => {
        socket.setEncoding('utf8')
        socket.on('data', (d: string) => received.push(...d.split('\n').filter(Boolean)))
        resolve(socket)
      })
    })
    await new Promise<void>((resolve) => server.listen(path, resolve))
    clock = new GuestClock({socketPath: path, log: () => {}, now: () => wall, monotonic: () => mono, pushEveryMs: 30_000})
    await clock.connect()
    await peer
  })
  afterEach(async () => {
    clock.stop()
    await new Promise((resolve) => server.close(resolve))
    rmSync(dir, {recursive: true, force: true})
  })

  const settle = () => new Promise((resolve) => setTimeout(resolve, 100))

  it('writes nothing until the guest listens, then the time at once', async () => {
    expect(clock.push('early')).to.equal(false)
    clock.tick()
    await settle()
    expect(received).to.deep.equal([])
    clock.guestListening()
    await settle()
    expect(received).to.deep.equal(['clock 1800000000.000'])
  })

  it('a host clock that jumps (a sleep, a manual set) is sent at once; steady time only every pushEveryMs', async () => {
    clock.guestListening()
    clock.tick()
    for (let i = 0; i < 5; i++) {
      wall += 2000
      mono += 2000
      clock.tick()
    }
    await settle()
    expect(received).to.have.length(1)
    wall += 3_600_000 // the host slept an hour: wall time moved, monotonic did not
    mono += 2000
    clock.tick()
    await settle()
    expect(received.at(-1)).to.equal(`clock ${((wall) / 1000).toFixed(3)}`)
    expect(received).to.have.length(2)
    for (let i = 0; i < 15; i++) {
      wall += 2000
      mono += 2000
      clock.tick()
    }
    await settle()
    expect(received).to.have.length(3)
  })

  it('a backward step counts too', async () => {
    clock.guestListening()
    clock.tick()
    wall -= 5000
    mono += 2000
    clock.tick()
    await settle()
    expect(received).to.have.length(2)
  })

  it('nothing is written while the guest is paused (it would be read stale); the time goes out as it runs again', async () => {
    clock.guestListening()
    await settle()
    clock.paused()
    for (let i = 0; i < 40; i++) {
      wall += 2000
      mono += 2000
      clock.tick()
    }
    expect(clock.push('while paused')).to.equal(false)
    await settle()
    expect(received).to.have.length(1)
    wall += 500
    clock.resumed()
    await settle()
    expect(received).to.deep.equal(['clock 1800000000.000', `clock ${(wall / 1000).toFixed(3)}`])
  })

  it('after a disconnect (the VM exited) nothing is sent until the next guest listens', async () => {
    clock.guestListening()
    await settle()
    clock.disconnect()
    expect(clock.push('after')).to.equal(false)
  })

  it('a connect still trying for a QEMU that went does not take the next one\'s port: one connection, and it is read', async () => {
    // a port whose QEMU has not made its socket yet (it is killed before it does); the next QEMU makes it late
    const late = join(dir, 'late.sock')
    const accepted: Socket[] = []
    const lines: string[] = []
    const other = new GuestClock({socketPath: late, log: () => {}, now: () => wall, monotonic: () => mono})
    const first = other.connect(5000)
    other.disconnect()
    const second = other.connect(5000)
    const lateServer = createServer((socket) => {
      accepted.push(socket)
      socket.setEncoding('utf8')
      socket.on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)))
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    await new Promise<void>((resolve) => lateServer.listen(late, resolve))
    await Promise.all([first, second])
    await settle()
    other.guestListening()
    await settle()
    expect(accepted.filter((socket) => !socket.destroyed && socket.readable)).to.have.length(1)
    expect(lines).to.deep.equal(['clock 1800000000.000'])
    other.stop()
    await new Promise((resolve) => lateServer.close(resolve))
  })
})
