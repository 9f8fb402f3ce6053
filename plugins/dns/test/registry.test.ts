// The container registry against a fake docker (helpers/fake-docker.ts): an in-memory engine whose event
// stream the test drives.
import {expect} from 'chai'

import {EVENT_FILTERS, ContainerRegistry} from '../src/registry.js'
import {FakeDocker} from './helpers/fake-docker.js'

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  throw new Error(`never: ${what}`)
}

describe('dlite-dns container registry (fake docker events)', () => {
  let docker: FakeDocker
  let registry: ContainerRegistry
  const names = () => registry.entries().map((e) => e.container).sort()

  beforeEach(() => {
    docker = new FakeDocker()
    docker.add({Id: 'a1', Name: '/web', running: true, ip: '172.17.0.2'})
    docker.add({Id: 'b2', Name: '/old', running: false, ip: ''})
  })

  afterEach(() => registry?.stop())

  it('subscribes to events first, with the filters, then lists the running containers', async () => {
    registry = new ContainerRegistry(docker)
    await registry.start()
    expect(docker.calls.slice(0, 2)).to.deep.equal(['events', 'GET /containers/json'])
    expect(docker.stream.filters).to.deep.equal(EVENT_FILTERS)
    expect(names()).to.deep.equal(['web'])
    expect(registry.state).to.equal('connected')
  })

  it('adds a container on start, with what inspect says', async () => {
    let changes = 0
    registry = new ContainerRegistry(docker, {onChange: () => changes++})
    await registry.start()
    docker.add({Id: 'c3', Name: '/db', running: true, ip: '172.17.0.3', labels: {'com.dnsdock.alias': 'db.docker'}})
    docker.emit('start', 'c3')
    await registry.settled()
    expect(names()).to.deep.equal(['db', 'web'])
    expect(registry.entries().find((e) => e.id === 'c3')).to.deep.include({ipv4: ['172.17.0.3'], aliases: [['db', 'docker']]})
    expect(changes).to.be.at.least(2)
  })

  it('drops a container on die at once, before any queued inspect', async () => {
    registry = new ContainerRegistry(docker)
    await registry.start()
    docker.containers.get('a1')!.running = false
    docker.emit('die', 'a1')
    expect(names()).to.deep.equal([]) // synchronously: no await in between
    await registry.settled()
    expect(names()).to.deep.equal([])
  })

  it('a start then a quick die ends with the container gone', async () => {
    registry = new ContainerRegistry(docker)
    await registry.start()
    docker.add({Id: 'c3', Name: '/blip', running: true, ip: '172.17.0.3'})
    docker.emit('start', 'c3') // inspect still says running when it runs
    docker.emit('die', 'c3')
    await registry.settled()
    expect(names()).to.deep.equal(['web'])
  })

  it('pause drops, unpause brings back', async () => {
    registry = new ContainerRegistry(docker)
    await registry.start()
    docker.containers.get('a1')!.paused = true
    docker.emit('pause', 'a1')
    expect(names()).to.deep.equal([])
    docker.containers.get('a1')!.paused = false
    docker.emit('unpause', 'a1')
    await registry.settled()
    expect(names()).to.deep.equal(['web'])
  })

  it('rename and network changes inspect the container again', async () => {
    registry = new ContainerRegistry(docker)
    await registry.start()
    docker.containers.get('a1')!.Name = '/www'
    docker.emit('rename', 'a1')
    await registry.settled()
    expect(names()).to.deep.equal(['www'])
    docker.containers.get('a1')!.ip = '172.18.0.9'
    docker.emit('connect', 'a1', 'network')
    await registry.settled()
    expect(registry.entries()[0].ipv4).to.deep.equal(['172.18.0.9'])
  })

  it('a start for a container that is gone (404) or not running adds nothing', async () => {
    registry = new ContainerRegistry(docker)
    await registry.start()
    docker.emit('start', 'zz')
    docker.emit('start', 'b2')
    await registry.settled()
    expect(names()).to.deep.equal(['web'])
  })

  it('destroy of an unknown container changes nothing', async () => {
    registry = new ContainerRegistry(docker)
    await registry.start()
    docker.emit('destroy', 'nope')
    await registry.settled()
    expect(names()).to.deep.equal(['web'])
  })

  it('when the stream breaks, it reconnects and lists again (catching what changed meanwhile)', async () => {
    registry = new ContainerRegistry(docker, {retryDelaysMs: [1]})
    await registry.start()
    docker.containers.get('a1')!.running = false
    docker.add({Id: 'c3', Name: '/new', running: true, ip: '172.17.0.3'})
    docker.stream.end(new Error('socket hang up'))
    await until(() => docker.streams.length === 2 && registry.state === 'connected', 'reconnected')
    await registry.settled()
    expect(names()).to.deep.equal(['new'])
    expect(registry.lastError).to.equal(undefined)
  })

  it('when the listing fails, it starts over until it works', async () => {
    docker.failList = 2
    registry = new ContainerRegistry(docker, {retryDelaysMs: [1]})
    await registry.start()
    expect(registry.state).to.equal('reconnecting')
    expect(registry.lastError).to.match(/500/)
    await until(() => registry.state === 'connected', 'connected')
    expect(names()).to.deep.equal(['web'])
    expect(docker.streams.filter((s) => s.stopped)).to.have.length(2) // each failed attempt closed its stream
  })

  it('stop closes the stream and does not reconnect', async () => {
    registry = new ContainerRegistry(docker, {retryDelaysMs: [1]})
    await registry.start()
    registry.stop()
    expect(docker.stream.stopped).to.equal(true)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(docker.streams).to.have.length(1)
    expect(registry.state).to.equal('stopped')
  })
})
