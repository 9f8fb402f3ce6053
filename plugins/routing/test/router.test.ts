import {expect} from 'chai'

import type {ExecResult} from 'dlite-kit/exec'

import {ConflictError, Router} from '../src/router.js'
import {eventually, FakeBackend, FakeDocker, VM} from './helpers.js'

describe('Router', () => {
  let docker: FakeDocker
  let backend: FakeBackend
  let guestCalls: string[]
  let guestAnswer: ExecResult
  let logs: string[]
  let router: Router

  beforeEach(() => {
    docker = new FakeDocker()
    docker.addBridge('bridge', '172.17.0.0/16')
    docker.addBridge('n1', '172.18.0.0/16')
    docker.networks.push({Id: 'h', Name: 'host', Driver: 'host', IPAM: {Config: null}})
    backend = new FakeBackend()
    guestCalls = []
    guestAnswer = {code: 0, stdout: 'DOCKER-USER eth0\n', stderr: ''}
    logs = []
    router = new Router(VM, {
      docker,
      guest: async (argv) => {
        guestCalls.push(argv[4]) // the action
        return argv[4] === 'check' ? {code: 0, stdout: 'present\n', stderr: ''} : guestAnswer
      },
      backend,
      log: (line) => logs.push(line),
      reconnectMs: 10,
    })
  })

  afterEach(() => router.unwatch())

  const routed = () => backend.routes.filter((r) => r.gateway === VM.ip).map((r) => r.dst).sort()

  describe('apply', () => {
    it('opens the guest, then routes the default bridge and user-defined networks via the VM', async () => {
      const result = await router.apply(true)
      expect(guestCalls).to.deep.equal(['apply'])
      expect(routed()).to.deep.equal(['172.17.0.0/16', '172.18.0.0/16'])
      expect(result.added).to.deep.equal(['172.17.0.0/16', '172.18.0.0/16'])
      expect(result.routes).to.deep.equal([
        {subnet: '172.17.0.0/16', network: 'bridge', via: '192.168.64.2', dev: 'dlbr-test'},
        {subnet: '172.18.0.0/16', network: 'n1', via: '192.168.64.2', dev: 'dlbr-test'},
      ])
      expect(result.guest).to.deep.equal({parent: 'DOCKER-USER', nic: 'eth0'})
    })

    it('is idempotent and removes routes via the VM that no network needs any more', async () => {
      backend.routes.push({dst: '172.29.0.0/16', gateway: VM.ip, dev: VM.bridge}) // left by a crashed daemon
      await router.apply(true)
      backend.log.length = 0
      const again = await router.apply(true)
      expect(again.added).to.deep.equal([])
      expect(again.removed).to.deep.equal([])
      expect(backend.log).to.deep.equal([])
      expect(routed()).to.deep.equal(['172.17.0.0/16', '172.18.0.0/16'])
    })

    it('strict (a command): a conflicting subnet refuses everything, with a message that names route and fix', async () => {
      backend.routes.push({dst: '172.16.0.0/12', gateway: '10.0.0.254', dev: 'eth0'})
      const before = structuredClone(backend.routes)
      let error: Error | undefined
      await router.apply(true).catch((e: Error) => (error = e))
      expect(error).to.be.instanceOf(ConflictError)
      expect(error!.message).to.match(/^172\.17\.0\.0\/16 \(docker network bridge\) overlaps the host route 172\.16\.0\.0\/12 via 10\.0\.0\.254 dev eth0; 172\.18\.0\.0\/16 \(docker network n1\)/)
      expect(error!.message).to.contain('Nothing was changed')
      expect(error!.message).to.contain('docker network create --subnet')
      expect(backend.routes).to.deep.equal(before)
      expect(backend.log).to.deep.equal([])
      expect(guestCalls, 'the guest was not touched').to.deep.equal([])
    })

    it('not strict (a VM start): conflicting networks are left out and logged, the others routed', async () => {
      backend.routes.push({dst: '172.18.128.0/17', dev: 'wg0'})
      const result = await router.apply(false)
      expect(routed()).to.deep.equal(['172.17.0.0/16'])
      expect(result.conflicts).to.deep.equal([{network: 'n1', subnet: '172.18.0.0/16', routes: ['172.18.128.0/17 dev wg0']}])
      expect(logs.join('\n')).to.contain('not routing 172.18.0.0/16 (n1): overlaps 172.18.128.0/17 dev wg0')
    })

    it('a guest that cannot be changed stops the apply before any route is added', async () => {
      guestAnswer = {code: 255, stdout: '', stderr: 'ssh: connect to host 192.168.64.2 port 22: Connection refused\n'}
      let message = ''
      await router.apply(true).catch((e: Error) => (message = e.message))
      expect(message).to.equal("the guest's forwarding rule (apply) failed with exit 255: ssh: connect to host 192.168.64.2 port 22: Connection refused")
      expect(routed()).to.deep.equal([])
    })

    it('leaves internal networks alone', async () => {
      docker.addBridge('secret', '172.30.0.0/16', {internal: true})
      const result = await router.apply(true)
      expect(routed()).not.to.include('172.30.0.0/16')
      expect(result.skipped.map((s) => s.name)).to.deep.equal(['secret'])
    })
  })

  describe('docker events', () => {
    it('subscribes to network create/destroy and routes a new network without another apply', async () => {
      await router.apply(true)
      router.watch()
      expect(docker.streams).to.have.length(1)
      expect(docker.streams[0].filters).to.deep.equal({type: ['network'], event: ['create', 'destroy']})
      docker.addBridge('n3', '172.20.0.0/16')
      docker.streams[0].emit({Type: 'network', Action: 'create', Actor: {ID: 'n3-id', Attributes: {name: 'n3', type: 'bridge'}}, time: 1})
      await eventually(() => routed().includes('172.20.0.0/16'))
      expect(logs.join('\n')).to.match(/network n3 created: routed 172\.20\.0\.0\/16, removed nothing/)
    })

    it('removes the route of a destroyed network', async () => {
      await router.apply(true)
      router.watch()
      docker.networks = docker.networks.filter((n) => n.Name !== 'n1')
      docker.streams[0].emit({Type: 'network', Action: 'destroy', Actor: {ID: 'n1-id', Attributes: {name: 'n1'}}, time: 2})
      await eventually(() => !routed().includes('172.18.0.0/16'))
      expect(routed()).to.deep.equal(['172.17.0.0/16'])
    })

    it('ignores other events, and a burst of events costs at most two syncs', async () => {
      await router.apply(true)
      router.watch()
      const listed = () => docker.requests.filter((r) => r === 'GET /networks').length
      const before = listed()
      docker.streams[0].emit({Type: 'network', Action: 'connect', Actor: {ID: 'x', Attributes: {}}, time: 3})
      docker.streams[0].emit({Type: 'container', Action: 'create', Actor: {ID: 'x', Attributes: {}}, time: 3})
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(listed()).to.equal(before)
      for (let i = 0; i < 10; i++) {
        docker.addBridge(`b${i}`, `10.${i}.0.0/24`)
        docker.streams[0].emit({Type: 'network', Action: 'create', Actor: {ID: `b${i}`, Attributes: {name: `b${i}`}}, time: 4})
      }
      await eventually(() => routed().length === 12)
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(listed() - before).to.be.within(1, 2)
    })

    it('re-subscribes when the stream breaks and catches up on what it missed', async () => {
      await router.apply(true)
      router.watch()
      docker.addBridge('missed', '172.21.0.0/16') // created while nobody listened
      docker.streams[0].end(new Error('socket hang up'))
      await eventually(() => docker.streams.length === 2 && routed().includes('172.21.0.0/16'))
      expect(logs.join('\n')).to.contain('docker event stream failed: socket hang up; following again in 10 ms')
      docker.streams[1].end() // a clean end is a break too while watching
      await eventually(() => docker.streams.length === 3)
    })

    it('unwatch stops the stream and nothing re-subscribes', async () => {
      router.watch()
      router.watch() // once is enough
      expect(docker.streams).to.have.length(1)
      router.unwatch()
      expect(docker.streams[0].stopped).to.equal(true)
      await new Promise((resolve) => setTimeout(resolve, 40))
      expect(docker.streams).to.have.length(1)
      expect(router.isWatching).to.equal(false)
    })
  })

  describe('remove and status', () => {
    it('remove takes away every route via the VM and, when asked, the guest rule; twice is fine', async () => {
      await router.apply(true)
      expect(await router.remove({guest: true})).to.deep.equal({removed: ['172.17.0.0/16', '172.18.0.0/16'], guestRuleRemoved: true})
      expect(routed()).to.deep.equal([])
      expect(backend.routes).to.deep.equal([{dst: '192.168.64.0/24', dev: 'dlbr-test'}])
      expect(guestCalls).to.deep.equal(['apply', 'remove'])
      expect(await router.remove({guest: false})).to.deep.equal({removed: [], guestRuleRemoved: false})
    })

    it('remove works without docker (the VM is stopping)', async () => {
      backend.routes.push({dst: '172.17.0.0/16', gateway: VM.ip, dev: VM.bridge})
      const bare = new Router(VM, {guest: async () => ({code: 0, stdout: '', stderr: ''}), backend, log: () => {}})
      expect((await bare.remove({guest: false})).removed).to.deep.equal(['172.17.0.0/16'])
      let message = ''
      await bare.apply(true).catch((e: Error) => (message = e.message))
      expect(message).to.match(/no docker endpoint/)
    })

    it('status: routes, per-network state, the guest rule, and containers to probe on routed networks', async () => {
      docker.containers = [
        {Id: 'c1', Names: ['/web1'], State: 'running', Ports: [], NetworkSettings: {Networks: {bridge: {IPAddress: '172.17.0.2', NetworkID: docker.networks[0].Id}}}},
        {Id: 'c2', Names: ['/web2'], State: 'running', Ports: [], NetworkSettings: {Networks: {n1: {IPAddress: '172.18.0.2', NetworkID: docker.networks[1].Id}}}},
      ]
      backend.routes.push({dst: '172.17.0.0/16', gateway: VM.ip, dev: VM.bridge})
      const status = await router.status()
      expect(status.routes).to.deep.equal([{subnet: '172.17.0.0/16', network: 'bridge', via: '192.168.64.2', dev: 'dlbr-test'}])
      expect(status.networks).to.deep.equal([
        {name: 'bridge', subnet: '172.17.0.0/16', state: 'routed'},
        {name: 'n1', subnet: '172.18.0.0/16', state: 'missing'},
      ])
      expect(status.guestRule).to.equal('present')
      expect(status.watching).to.equal(false)
      // only the routed network's container: a probe must never go where the host routes elsewhere
      expect(status.probeTargets).to.deep.equal([{network: 'bridge', container: 'web1', ip: '172.17.0.2', port: 80}])
    })
  })
})
