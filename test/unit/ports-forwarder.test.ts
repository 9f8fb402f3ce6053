// The port forwarder following container events, with real listeners through a real ProxyTransport to a
// local echo server. Docker itself is not available to unit tests, so the engine is an in-memory stand-in
// answering the three calls the forwarder makes: GET /containers/json, GET /containers/<id>/json, events.
import {expect} from 'chai'
import {connect, createServer, type Server} from 'node:net'

import type {DockerEvent, DockerResponse} from '../../src/docker/client.js'
import type {ContainerInspect} from '../../src/daemon/ports/bindings.js'
import {freeLoopbackPort, hostHasIpv6Loopback} from '../../src/daemon/ports/loopback.js'
import {PortForwarder} from '../../src/daemon/ports/port-forwarder.js'
import {ProxyTransport} from '../../src/daemon/ports/proxy-transport.js'

type Ports = NonNullable<NonNullable<ContainerInspect['NetworkSettings']>['Ports']>

class FakeDocker {
  readonly containers = new Map<string, ContainerInspect>()
  readonly subscriptions: Array<{onEvent: (event: DockerEvent) => void; filters?: Record<string, string[]>; end: (error?: Error) => void; stopped: boolean}> = []
  /** Delay before an inspect answers; the answer is the container's state when the request arrived. */
  inspectDelayMs = 0
  readonly inspected: string[] = []

  async request<T = unknown>(method: string, path: string): Promise<DockerResponse<T>> {
    if (method === 'GET' && path === '/containers/json') {
      const running = [...this.containers.values()].filter((c) => c.State?.Running).map((c) => ({Id: c.Id, Names: [c.Name]}))
      return {status: 200, body: running as T}
    }
    const inspect = /^\/containers\/([^/]+)\/json$/.exec(path)
    if (method === 'GET' && inspect) {
      this.inspected.push(decodeURIComponent(inspect[1]))
      const found = this.containers.get(decodeURIComponent(inspect[1]))
      const snapshot = found && structuredClone(found)
      if (this.inspectDelayMs) await new Promise((resolve) => setTimeout(resolve, this.inspectDelayMs))
      return snapshot ? {status: 200, body: snapshot as T} : {status: 404, body: {message: 'No such container'} as T}
    }
    return {status: 404, body: {message: `no route ${method} ${path}`} as T}
  }

  events(onEvent: (event: DockerEvent) => void, filters?: Record<string, string[]>): {stop(): void; done: Promise<void>} {
    let end!: (error?: Error) => void
    const done = new Promise<void>((resolve, reject) => (end = (error) => (error ? reject(error) : resolve())))
    const subscription = {onEvent, filters, end, stopped: false}
    this.subscriptions.push(subscription)
    return {
      stop() {
        subscription.stopped = true
        end()
      },
      done,
    }
  }

  get live() {
    return this.subscriptions.filter((s) => !s.stopped)
  }

  /** Ends every live event stream, as a dropped connection to dockerd would. */
  breakStreams(error?: Error): void {
    for (const subscription of this.live) {
      subscription.stopped = true
      subscription.end(error)
    }
  }

  emit(Action: string, id: string): void {
    const name = this.containers.get(id)?.Name ?? ''
    for (const subscription of this.live) subscription.onEvent({Type: 'container', Action, Actor: {ID: id, Attributes: {name}}, time: 0})
  }

  /** Creates (if needed) and starts a container; `silently` skips the event, as while the stream is down. */
  run(id: string, ports: Ports, silently = false): void {
    this.containers.set(id, {Id: id, Name: `/${id}`, State: {Running: true}, NetworkSettings: {Ports: ports}})
    if (!silently) this.emit('start', id)
  }

  /** `docker stop`: kill, die, stop, in docker's order. */
  stop(id: string, silently = false): void {
    const container = this.containers.get(id)!
    container.State = {Running: false}
    container.NetworkSettings = {Ports: {}}
    if (silently) return
    for (const action of ['kill', 'die', 'stop']) this.emit(action, id)
  }
}

const published = (containerPort: number, hostPort: number, hostIp = ''): Ports => ({
  [`${containerPort}/tcp`]: [{HostIp: hostIp || '0.0.0.0', HostPort: String(hostPort)}, ...(hostIp ? [] : [{HostIp: '::', HostPort: String(hostPort)}])],
})

function say(port: number, host = '127.0.0.1', text = 'hello'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({port, host, allowHalfOpen: true})
    let answer = ''
    socket.on('data', (d) => (answer += d))
    socket.on('end', () => {
      socket.end()
      resolve(answer)
    })
    socket.on('error', reject)
    socket.end(text)
  })
}

async function refused(port: number, host = '127.0.0.1'): Promise<boolean> {
  try {
    await say(port, host)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ECONNREFUSED'
  }
}

/** Retries an assertion until it holds or the time is up ("within a second" of the event). */
async function eventually(check: () => unknown, withinMs = 1000): Promise<void> {
  const deadline = Date.now() + withinMs
  for (;;) {
    try {
      await check()
      return
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
}

describe('port forwarder', function () {
  this.timeout(20_000)
  let echo: Server
  let echoPort: number
  let ipv6: boolean
  let docker: FakeDocker
  let forwarder: PortForwarder | undefined
  let logs: string[]

  before(async () => {
    ipv6 = await hostHasIpv6Loopback()
    echo = createServer({allowHalfOpen: true}, (socket) => {
      socket.on('error', () => {})
      socket.pipe(socket)
    })
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve))
    echoPort = (echo.address() as {port: number}).port
  })
  beforeEach(() => {
    docker = new FakeDocker()
    logs = []
  })
  afterEach(async () => {
    await forwarder?.close()
    forwarder = undefined
  })
  after(() => echo.close())

  // Every host port reaches the echo server: it stands in for the guest's published port.
  const startForwarder = async (options: {ipv6?: boolean} = {}) => {
    forwarder = new PortForwarder({
      docker,
      transport: new ProxyTransport('127.0.0.1', () => echoPort),
      ipv6: options.ipv6 ?? ipv6,
      log: (line) => logs.push(line),
      retryDelayMs: 20,
    })
    await forwarder.start()
    return forwarder
  }

  /** A port free on both loopbacks, so a both-loopback forward of it can open. */
  async function freePort(): Promise<number> {
    for (;;) {
      const port = await freeLoopbackPort('tcp')
      if (!ipv6) return port
      const probe = createServer()
      const free = await new Promise<boolean>((resolve) => {
        probe.once('error', () => resolve(false))
        probe.listen({port, host: '::1', exclusive: true}, () => probe.close(() => resolve(true)))
      })
      if (free) return port
    }
  }

  it('subscribes to container start, die and destroy events', async () => {
    await startForwarder()
    expect(docker.subscriptions).to.have.length(1)
    expect(docker.subscriptions[0].filters).to.deep.equal({type: ['container'], event: ['start', 'die', 'destroy']})
  })

  it('forwards the ports of containers already running at start, once per loopback', async () => {
    const port = await freePort()
    docker.run('web', published(80, port), true)
    const f = await startForwarder()
    expect(await say(port)).to.equal('hello')
    if (ipv6) expect(await say(port, '::1')).to.equal('hello')
    expect(f.status()).to.deep.equal({
      forwarded: [
        {proto: 'tcp', address: '127.0.0.1', hostPort: port, containerName: 'web', containerPort: 80},
        ...(ipv6 ? [{proto: 'tcp', address: '::1', hostPort: port, containerName: 'web', containerPort: 80}] : []),
      ],
      failed: [],
    })
  })

  it('opens a listener within a second of a start event and closes it on die', async () => {
    const f = await startForwarder()
    const port = await freePort()
    docker.run('web', published(80, port))
    await eventually(async () => expect(await say(port)).to.equal('hello'))
    docker.stop('web')
    await eventually(async () => expect(await refused(port)).to.equal(true))
    if (ipv6) expect(await refused(port, '::1')).to.equal(true)
    expect(f.status()).to.deep.equal({forwarded: [], failed: []})
  })

  it('closes the listener on destroy (docker rm -f)', async () => {
    const f = await startForwarder()
    const port = await freePort()
    docker.run('web', published(80, port))
    await eventually(async () => expect(await say(port)).to.equal('hello'))
    docker.containers.delete('web')
    docker.emit('destroy', 'web')
    await eventually(async () => expect(await refused(port)).to.equal(true))
    expect(f.status().forwarded).to.deep.equal([])
  })

  it('-p 127.0.0.1:X:Y forwards 127.0.0.1 only', async function () {
    if (!ipv6) this.skip()
    const f = await startForwarder()
    const port = await freePort()
    docker.run('web', published(80, port, '127.0.0.1'))
    await eventually(() => expect(f.status().forwarded).to.have.length(1))
    expect(f.status().forwarded[0]).to.include({address: '127.0.0.1', hostPort: port})
    expect(await refused(port, '::1')).to.equal(true)
  })

  it('without IPv6 it serves 127.0.0.1 only, and an ::1-only publish not at all', async () => {
    const f = await startForwarder({ipv6: false})
    const [port, v6only] = [await freePort(), await freePort()]
    docker.run('web', published(80, port))
    docker.run('v6', published(80, v6only, '::1'))
    await eventually(() => expect(f.status().forwarded.map((p) => `${p.address} ${p.hostPort}`)).to.deep.equal([`127.0.0.1 ${port}`]))
    if (ipv6) expect(await refused(port, '::1')).to.equal(true)
    expect(f.status().failed).to.deep.equal([])
  })

  it('records a host port that is taken as a failure and still forwards the others', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const takenPort = (taken.address() as {port: number}).port
    try {
      const f = await startForwarder()
      const free = await freePort()
      docker.run('web', {...published(80, takenPort, '127.0.0.1'), ...published(81, free)})
      await eventually(() => expect(f.status().failed).to.have.length(1))
      expect(f.status().failed).to.deep.equal([
        {proto: 'tcp', address: '127.0.0.1', hostPort: takenPort, containerName: 'web', reason: `127.0.0.1:${takenPort}/tcp is in use on the host`},
      ])
      await eventually(() => expect(f.status().forwarded.map((p) => p.hostPort)).to.include(free))
      expect(await say(free)).to.equal('hello')
      expect(logs.some((line) => line.includes(`127.0.0.1:${takenPort}/tcp is in use on the host`))).to.equal(true)
    } finally {
      taken.close()
    }
  })

  it('a start quickly followed by die leaves no listener behind', async () => {
    const f = await startForwarder()
    const port = await freePort()
    // The inspect answers "running" after the container has already died: the die must wait for it.
    docker.inspectDelayMs = 100
    docker.run('blink', published(80, port))
    await eventually(() => expect(docker.inspected).to.include('blink'))
    docker.stop('blink')
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(f.status().forwarded).to.deep.equal([])
    expect(await refused(port)).to.equal(true)
  })

  it('resubscribes after the events stream ends and reconciles what it missed', async () => {
    const f = await startForwarder()
    const [gonePort, newPort] = [await freePort(), await freePort()]
    docker.run('old', published(80, gonePort))
    await eventually(async () => expect(await say(gonePort)).to.equal('hello'))

    docker.breakStreams()
    // While nobody listens: one container stops and another starts, without events reaching the forwarder.
    docker.stop('old', true)
    docker.run('new', published(80, newPort), true)

    await eventually(() => expect(docker.live).to.have.length(1))
    expect(docker.subscriptions).to.have.length(2)
    await eventually(async () => expect(await say(newPort)).to.equal('hello'))
    await eventually(async () => expect(await refused(gonePort)).to.equal(true))
    expect(f.status().forwarded.every((p) => p.containerName === 'new')).to.equal(true)
    expect(logs.some((line) => line.includes('docker events stream ended'))).to.equal(true)

    // And it follows events on the new stream.
    docker.stop('new')
    await eventually(async () => expect(await refused(newPort)).to.equal(true))
  })

  it('resubscribes after the events stream fails, logging why', async () => {
    await startForwarder()
    docker.breakStreams(new Error('socket hang up'))
    await eventually(() => expect(docker.live).to.have.length(1))
    expect(logs.some((line) => line.includes('docker events stream failed: socket hang up'))).to.equal(true)
    const port = await freePort()
    docker.run('web', published(80, port))
    await eventually(async () => expect(await say(port)).to.equal('hello'))
  })

  it('a port held by another container fails with its name, and is taken over once that one stops', async () => {
    const f = await startForwarder()
    const port = await freePort()
    docker.run('first', published(80, port, '127.0.0.1'))
    await eventually(() => expect(f.status().forwarded).to.have.length(1))
    // dockerd allows this (another HostIp), but on the host both want 127.0.0.1:port.
    docker.run('second', published(80, port, '192.168.64.2'))
    await eventually(() => expect(f.status().failed.map((p) => p.reason)).to.include(`127.0.0.1:${port}/tcp is already forwarded for container first`))
    docker.stop('first')
    await eventually(() => expect(f.status().forwarded.filter((p) => p.address === '127.0.0.1').map((p) => p.containerName)).to.deep.equal(['second']))
    expect(f.status().failed).to.deep.equal([])
  })

  it('close() stops following events and frees every port', async () => {
    const f = await startForwarder()
    const port = await freePort()
    docker.run('web', published(80, port))
    await eventually(async () => expect(await say(port)).to.equal('hello'))
    await f.close()
    forwarder = undefined
    expect(docker.live).to.have.length(0)
    expect(await refused(port)).to.equal(true)
    expect(f.status()).to.deep.equal({forwarded: [], failed: []})
    // Events after close change nothing, and nothing resubscribes.
    docker.run('late', published(80, port))
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(f.status().forwarded).to.deep.equal([])
    expect(docker.subscriptions).to.have.length(1)
  })
})
