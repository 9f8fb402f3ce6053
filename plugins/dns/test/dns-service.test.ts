// The daemon-side pieces together: the service with a fake docker engine, answering real queries on
// 127.0.0.1 (an ephemeral port instead of the bridge's port 53), and the guest-config hook's decision.
import {expect} from 'chai'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {dnsArgument, guestConfig} from '../src/daemon-side.js'
import {DnsService} from '../src/dns-service.js'
import {DEFAULT_SETTINGS, writeSettings} from '../src/settings.js'
import {addresses, query} from './helpers/dns-client.js'
import {FakeDocker} from './helpers/fake-docker.js'

const HOST = '127.0.0.1'
const VM = {ip: '192.168.64.2', hostname: 'local.docker', hostIp: '192.168.64.1', subnet: '192.168.64.0/24'}

describe('dlite-dns service (fake docker, real sockets)', () => {
  let docker: FakeDocker
  let service: DnsService
  let port: number

  beforeEach(async () => {
    docker = new FakeDocker()
    docker.add({Id: 'w1', Name: '/web', running: true, ip: '172.17.0.2'})
    docker.add({Id: 'd1', Name: '/db-1', running: true, ip: '172.17.0.3', labels: {'com.dnsdock.alias': 'db.docker'}})
    service = await DnsService.start({...DEFAULT_SETTINGS, enabled: true, upstream: []}, {
      docker, vm: VM, log: () => {}, listen: [{host: HOST, port: 0}],
    })
    port = service.listening[0].port
  })

  afterEach(async () => {
    await service.stop()
  })

  it('serves the running containers as soon as it has started', async () => {
    expect(addresses(await query(HOST, port, 'web.busybox.docker', 'A'))).to.deep.equal(['172.17.0.2'])
    expect(addresses(await query(HOST, port, 'busybox.docker', 'A'))).to.deep.equal(['172.17.0.2', '172.17.0.3'])
    expect(addresses(await query(HOST, port, 'db.docker', 'A'))).to.deep.equal(['172.17.0.3'])
    expect(addresses(await query(HOST, port, 'local.docker', 'A'))).to.deep.equal(['192.168.64.2'])
    expect(service.registry.state).to.equal('connected')
  })

  it('follows docker events: a stopped container is NXDOMAIN, a started one answers', async () => {
    docker.containers.get('w1')!.running = false
    docker.emit('die', 'w1')
    expect((await query(HOST, port, 'web.busybox.docker', 'A')).rcode).to.equal('NXDOMAIN')
    expect(addresses(await query(HOST, port, 'busybox.docker', 'A'))).to.deep.equal(['172.17.0.3'])
    docker.add({Id: 'n1', Name: '/new', running: true, ip: '172.17.0.4'})
    docker.emit('start', 'n1')
    await service.registry.settled()
    expect(addresses(await query(HOST, port, 'new.busybox.docker', 'A'))).to.deep.equal(['172.17.0.4'])
  })

  it('names() lists what is served, and counts queries by outcome', async () => {
    expect(service.names().map((n) => n.name)).to.deep.equal(['busybox.docker', 'db-1.busybox.docker', 'db.docker', 'local.docker', 'web.busybox.docker'])
    await query(HOST, port, 'web.busybox.docker', 'A')
    await query(HOST, port, 'nope.docker', 'A')
    await query(HOST, port, 'example.com', 'A')
    expect(service.queries).to.deep.include({answer: 1, nxdomain: 1, refused: 1})
  })

  it('with `system` upstream and no resolvers on the host, other names are REFUSED', async () => {
    await service.stop()
    service = await DnsService.start({...DEFAULT_SETTINGS, enabled: true}, {
      docker, vm: VM, log: () => {}, listen: [{host: HOST, port: 0}], resolvConfFiles: ['/nonexistent/resolv.conf'],
    })
    port = service.listening[0].port
    expect(service.upstreamList()).to.deep.equal([])
    expect((await query(HOST, port, 'example.com', 'A')).rcode).to.equal('REFUSED')
  })

  it('stop closes the sockets and the event stream', async () => {
    await service.stop()
    expect(docker.stream.stopped).to.equal(true)
    const late = await query(HOST, port, 'web.busybox.docker', 'A', {timeoutMs: 300}).catch((error: Error) => error)
    expect(late).to.be.instanceOf(Error)
  })

  it('refuses to start on an address that is taken, naming the cause', async () => {
    const error = await DnsService.start({...DEFAULT_SETTINGS, enabled: true}, {
      docker, vm: VM, log: () => {}, listen: [{host: HOST, port}],
    }).catch((e: Error) => e)
    expect(error).to.be.instanceOf(Error)
    expect((error as Error).message).to.match(/cannot listen on 127\.0\.0\.1:\d+\/udp: another program already uses it/)
  })
})

describe('dlite-dns guest config (dockerd --dns)', () => {
  let home: string
  const dlite = {pluginStateDir: (h: string, plugin: string) => join(h, 'plugins', plugin)}
  const event = {home: '', ip: '192.168.64.2', hostname: 'local.docker', subnet: '192.168.64.0/24', hostIp: '192.168.64.1', bridge: 'dlite0'}

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'dlite-dns-home-'))
  })
  afterEach(() => rmSync(home, {recursive: true, force: true}))

  it('adds --dns=<bridge address> only while enabled with container DNS', () => {
    const stateDir = join(home, 'plugins', 'dlite-dns')
    expect(guestConfig({...event, home}, dlite)).to.equal(undefined) // never enabled
    writeSettings(stateDir, {...DEFAULT_SETTINGS, enabled: true})
    expect(guestConfig({...event, home}, dlite)).to.deep.equal({dockerArgs: [dnsArgument('192.168.64.1')]})
    expect(dnsArgument('192.168.64.1')).to.equal('--dns=192.168.64.1')
    writeSettings(stateDir, {...DEFAULT_SETTINGS, enabled: true, containerDns: false})
    expect(guestConfig({...event, home}, dlite)).to.equal(undefined)
    writeSettings(stateDir, {...DEFAULT_SETTINGS, enabled: false})
    expect(guestConfig({...event, home}, dlite)).to.equal(undefined)
  })
})
