// QEMU user-mode host forwards, driven through HMP. QEMU is not run by unit tests: the HMP side is a
// function recording command lines, and for the [::1] relay it opens real listeners the way QEMU would.
import {expect} from 'chai'
import {mkdtempSync, rmSync} from 'node:fs'
import {connect, createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {QmpClient} from '../../src/hypervisor/qmp.js'
import {freeLoopbackPort, hostHasIpv6Loopback} from '../../src/daemon/ports/loopback.js'
import {ProxyTransport} from '../../src/daemon/ports/proxy-transport.js'
import {hmpOverQmp, SlirpTransport} from '../../src/daemon/ports/slirp-transport.js'
import type {ForwardHandle, ForwardSpec, ForwardTransport} from '../../src/daemon/ports/transports.js'
import {UserModeTransport} from '../../src/daemon/ports/user-mode-transport.js'
import {rejection} from '../helpers/rejection.js'

/** What QEMU 7.2 answers (measured): nothing for a good hostfwd_add, this for a good hostfwd_remove. */
const qemuAnswer = (line: string) => (line.startsWith('hostfwd_remove') ? `host forwarding rule for ${line.split(' ')[2]} removed\r\n` : '')

function recordingHmp(answer: (line: string) => string = qemuAnswer) {
  const lines: string[] = []
  const hmp = async (line: string) => {
    lines.push(line)
    return answer(line)
  }
  return {lines, hmp}
}

describe('slirp transport', () => {
  it('adds and removes a TCP host forward to the same guest port', async () => {
    const {lines, hmp} = recordingHmp()
    const handle = await new SlirpTransport(hmp).open({proto: 'tcp', listenAddress: '127.0.0.1', hostPort: 8080})
    expect(lines).to.deep.equal(['hostfwd_add net0 tcp:127.0.0.1:8080-:8080'])
    await handle.close()
    await handle.close()
    expect(lines).to.deep.equal(['hostfwd_add net0 tcp:127.0.0.1:8080-:8080', 'hostfwd_remove net0 tcp:127.0.0.1:8080'])
  })

  it('adds and removes a UDP host forward, on the netdev it is given', async () => {
    const {lines, hmp} = recordingHmp()
    const handle = await new SlirpTransport(hmp, {netdev: 'user1'}).open({proto: 'udp', listenAddress: '127.0.0.1', hostPort: 5353})
    await handle.close()
    expect(lines).to.deep.equal(['hostfwd_add user1 udp:127.0.0.1:5353-:5353', 'hostfwd_remove user1 udp:127.0.0.1:5353'])
  })

  it('HMP output on add is a failure naming the port', async () => {
    const {lines, hmp} = recordingHmp(() => "Could not set up host forwarding rule 'tcp:127.0.0.1:8080-:8080'\r\n")
    const error = await rejection(new SlirpTransport(hmp).open({proto: 'tcp', listenAddress: '127.0.0.1', hostPort: 8080}))
    expect(error.message).to.match(/^127\.0\.0\.1:8080\/tcp is in use on the host/)
    expect(error.message).to.include('Could not set up host forwarding rule')
    expect(lines).to.have.length(1)
  })

  it('HMP output on remove is a failure too', async () => {
    const {hmp} = recordingHmp((line) => (line.startsWith('hostfwd_remove') ? 'host forwarding rule for tcp:127.0.0.1:8080 not found' : ''))
    const handle = await new SlirpTransport(hmp).open({proto: 'tcp', listenAddress: '127.0.0.1', hostPort: 8080})
    expect((await rejection(handle.close())).message).to.include('not found')
  })

  it('refuses [::1] without a fallback, and hands it to the fallback when there is one', async () => {
    const {lines, hmp} = recordingHmp()
    const error = await rejection(new SlirpTransport(hmp).open({proto: 'tcp', listenAddress: '::1', hostPort: 8080}))
    expect(error.message).to.equal('[::1]:8080/tcp cannot be forwarded by QEMU user-mode networking, which listens on IPv4 only')
    const seen: ForwardSpec[] = []
    const fallback: ForwardTransport = {open: async (spec) => (seen.push(spec), {close: async () => {}})}
    await new SlirpTransport(hmp, {ipv6Fallback: fallback}).open({proto: 'tcp', listenAddress: '::1', hostPort: 8080})
    expect(seen).to.deep.equal([{proto: 'tcp', listenAddress: '::1', hostPort: 8080}])
    expect(lines).to.deep.equal([])
  })

  it('hmpOverQmp runs human-monitor-command and returns its text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dlite-hmp-'))
    const path = join(dir, 'qmp.sock')
    const received: unknown[] = []
    const fake = createServer((socket) => {
      socket.write('{"QMP": {"version": {}, "capabilities": []}}\r\n')
      socket.on('data', (data) => {
        for (const line of data.toString().split('\n').filter(Boolean)) {
          const message = JSON.parse(line)
          received.push(message)
          const commandLine: string = message.arguments?.['command-line'] ?? ''
          socket.write(JSON.stringify({return: commandLine.includes('8080') ? 'Could not set up host forwarding rule\r\n' : message.execute === 'qmp_capabilities' ? {} : ''}) + '\r\n')
        }
      })
    })
    await new Promise<void>((resolve) => fake.listen(path, resolve))
    const qmp = await QmpClient.connect(path)
    try {
      const hmp = hmpOverQmp(qmp)
      expect(await hmp('hostfwd_add net0 tcp:127.0.0.1:9090-:9090')).to.equal('')
      expect(await hmp('hostfwd_add net0 tcp:127.0.0.1:8080-:8080')).to.equal('Could not set up host forwarding rule\r\n')
      expect(received[1]).to.deep.equal({execute: 'human-monitor-command', arguments: {'command-line': 'hostfwd_add net0 tcp:127.0.0.1:9090-:9090'}})
    } finally {
      qmp.close()
      fake.close()
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('user-mode transport', function () {
  this.timeout(20_000)
  // Stands in for the guest: one echo server reached for every guest port.
  let guest: Server
  let guestPort: number
  const handles: ForwardHandle[] = []

  before(async () => {
    guest = createServer((socket) => {
      socket.on('error', () => {})
      socket.end('from the VM')
    })
    await new Promise<void>((resolve) => guest.listen(0, '127.0.0.1', resolve))
    guestPort = (guest.address() as {port: number}).port
  })
  afterEach(async () => {
    for (const handle of handles.splice(0)) await handle.close()
  })
  after(() => guest.close())

  /** Acts on hostfwd_add / hostfwd_remove the way QEMU does: a real 127.0.0.1 listener into the "guest". */
  function qemuLikeHmp() {
    const rules = new Map<string, ForwardHandle>()
    const lines: string[] = []
    const proxy = new ProxyTransport('127.0.0.1', () => guestPort)
    const hmp = async (line: string): Promise<string> => {
      lines.push(line)
      const add = /^hostfwd_add net0 (tcp):127\.0\.0\.1:(\d+)-:(\d+)$/.exec(line)
      if (add) {
        try {
          rules.set(`${add[1]}:${add[2]}`, await proxy.open({proto: 'tcp', listenAddress: '127.0.0.1', hostPort: Number(add[2])}))
          return ''
        } catch {
          return `Could not set up host forwarding rule '${line.split(' ')[2]}'\r\n`
        }
      }
      const remove = /^hostfwd_remove net0 (tcp):127\.0\.0\.1:(\d+)$/.exec(line)
      if (remove && rules.has(`${remove[1]}:${remove[2]}`)) {
        await rules.get(`${remove[1]}:${remove[2]}`)!.close()
        rules.delete(`${remove[1]}:${remove[2]}`)
        return qemuAnswer(line)
      }
      return `unexpected: ${line}`
    }
    return {hmp, lines, rules}
  }

  function read(port: number, host: string): Promise<string> {
    return new Promise((resolve, reject) => {
      let text = ''
      const socket = connect({port, host})
      socket.on('data', (d) => (text += d))
      socket.on('end', () => resolve(text))
      socket.on('error', reject)
    })
  }

  it('serves 127.0.0.1 with a plain slirp forward', async () => {
    const {hmp, lines} = qemuLikeHmp()
    const hostPort = await freeLoopbackPort('tcp')
    handles.push(await new UserModeTransport(hmp).open({proto: 'tcp', listenAddress: '127.0.0.1', hostPort}))
    expect(lines).to.deep.equal([`hostfwd_add net0 tcp:127.0.0.1:${hostPort}-:${hostPort}`])
    expect(await read(hostPort, '127.0.0.1')).to.equal('from the VM')
  })

  it('serves [::1] through a slirp forward of its own, even when 127.0.0.1:hostPort belongs to someone else', async function () {
    if (!(await hostHasIpv6Loopback())) this.skip()
    const hostPort = await freeLoopbackPort('tcp', '::1')
    // An unrelated host process on 127.0.0.1 with the same port number: the [::1] forward must not reach it.
    const unrelated = createServer((socket) => socket.end('unrelated process'))
    await new Promise<void>((resolve, reject) => {
      unrelated.once('error', reject)
      unrelated.listen({port: hostPort, host: '127.0.0.1', exclusive: true}, resolve)
    })
    try {
      const {hmp, lines, rules} = qemuLikeHmp()
      const handle = await new UserModeTransport(hmp).open({proto: 'tcp', listenAddress: '::1', hostPort})
      expect(lines).to.have.length(1)
      const relay = /^hostfwd_add net0 tcp:127\.0\.0\.1:(\d+)-:(\d+)$/.exec(lines[0])
      expect(relay, lines[0]).to.not.equal(null)
      expect(Number(relay![1])).to.not.equal(hostPort)
      expect(Number(relay![2])).to.equal(hostPort)
      expect(await read(hostPort, '::1')).to.equal('from the VM')

      await handle.close()
      expect(lines[1]).to.equal(`hostfwd_remove net0 tcp:127.0.0.1:${relay![1]}`)
      expect(rules.size).to.equal(0)
      const error = await rejection(read(hostPort, '::1'))
      expect((error as NodeJS.ErrnoException).code).to.equal('ECONNREFUSED')
    } finally {
      unrelated.close()
    }
  })

  it('a [::1] port in use removes the relay it had added and names the port', async function () {
    if (!(await hostHasIpv6Loopback())) this.skip()
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '::1', resolve))
    const hostPort = (holder.address() as {port: number}).port
    try {
      const {hmp, lines, rules} = qemuLikeHmp()
      const error = await rejection(new UserModeTransport(hmp).open({proto: 'tcp', listenAddress: '::1', hostPort}))
      expect(error.message).to.equal(`[::1]:${hostPort}/tcp is in use on the host`)
      expect(lines.map((line) => line.split(' ')[0])).to.deep.equal(['hostfwd_add', 'hostfwd_remove'])
      expect(rules.size).to.equal(0)
    } finally {
      holder.close()
    }
  })
})
