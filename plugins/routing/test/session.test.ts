import {expect} from 'chai'
import type {PluginRequestEvent, VmReadyEvent} from 'dlite-cli/plugin'

import {Router} from '../src/router.js'
import {RoutingSession} from '../src/session.js'
import {FakeBackend, FakeDocker, VM} from './helpers.js'

const READY: VmReadyEvent = {
  home: '/h', ip: VM.ip, hostname: 'local.docker', subnet: VM.subnet, hostIp: VM.hostIp, bridge: VM.bridge,
  docker: {kind: 'unix', socketPath: '/h/docker.sock'},
}

describe('RoutingSession (the daemon side)', () => {
  let docker: FakeDocker
  let backend: FakeBackend
  let enabled: boolean
  let guestCalls: string[]
  let made: Array<{docker: boolean}>
  let session: RoutingSession

  beforeEach(() => {
    docker = new FakeDocker()
    docker.addBridge('bridge', '172.17.0.0/16')
    backend = new FakeBackend()
    enabled = false
    guestCalls = []
    made = []
    session = new RoutingSession({
      makeRouter: (event) => {
        made.push({docker: Boolean(event.docker)})
        return new Router({ip: event.ip, hostIp: event.hostIp, bridge: event.bridge, subnet: event.subnet}, {
          docker: event.docker ? docker : undefined,
          guest: async (argv) => {
            guestCalls.push(argv[4])
            return {code: 0, stdout: argv[4] === 'apply' ? 'DOCKER-USER eth0\n' : 'present\n', stderr: ''}
          },
          backend,
          log: () => {},
        })
      },
      isEnabled: () => enabled,
      log: () => {},
    })
  })

  afterEach(() => session.vmStopped())

  const routed = () => backend.routes.filter((r) => r.gateway === VM.ip).map((r) => r.dst)
  const request = (plugin: string, body: unknown): PluginRequestEvent => ({...READY, plugin, request: body})

  it('vm-ready with routing off changes nothing', async () => {
    await session.vmReady(READY)
    expect(routed()).to.deep.equal([])
    expect(guestCalls).to.deep.equal([])
    expect(docker.streams).to.have.length(0)
  })

  it('vm-ready with routing on applies and follows docker events; a second vm-ready (QEMU restarted) starts afresh', async () => {
    enabled = true
    await session.vmReady(READY)
    expect(routed()).to.deep.equal(['172.17.0.0/16'])
    expect(docker.streams).to.have.length(1)
    await session.vmReady(READY)
    expect(docker.streams[0].stopped, 'the old watcher is stopped').to.equal(true)
    expect(docker.streams).to.have.length(2)
    expect(guestCalls).to.deep.equal(['apply', 'apply'])
  })

  it('vm-stopping removes the routes (not the guest rule: the guest is going away) and stops watching', async () => {
    enabled = true
    await session.vmReady(READY)
    await session.vmStopping(READY)
    expect(routed()).to.deep.equal([])
    expect(docker.streams[0].stopped).to.equal(true)
    expect(guestCalls).to.deep.equal(['apply'])
  })

  it('vm-stopping without a router (the plugin was off) still removes stale routes, without docker', async () => {
    backend.routes.push({dst: '172.17.0.0/16', gateway: VM.ip, dev: VM.bridge})
    const {docker: _omit, ...lifecycle} = READY
    await session.vmStopping(lifecycle)
    expect(routed()).to.deep.equal([])
    expect(made).to.deep.equal([{docker: false}])
  })

  it('answers only requests for dlite-routing', async () => {
    expect(await session.request(request('dlite-dns', {op: 'status'}))).to.equal(undefined)
    expect(made).to.deep.equal([])
  })

  it('enable applies strictly and watches; status reports; disable removes routes and the guest rule', async () => {
    const enabledAnswer = await session.request(request('dlite-routing', {op: 'enable'}))
    expect(enabledAnswer).to.include.keys('routes', 'added', 'skipped', 'conflicts', 'guest')
    expect(routed()).to.deep.equal(['172.17.0.0/16'])
    const status = await session.request(request('dlite-routing', {op: 'status'})) as {watching: boolean}
    expect(status.watching).to.equal(true)
    const disabled = await session.request(request('dlite-routing', {op: 'disable'}))
    expect(disabled).to.deep.equal({removed: ['172.17.0.0/16'], guestRuleRemoved: true})
    expect(docker.streams[0].stopped).to.equal(true)
    expect(guestCalls).to.deep.equal(['apply', 'check', 'remove'])
  })

  it('refuses a request it does not know', async () => {
    let message = ''
    await session.request(request('dlite-routing', {op: 'reboot'})).catch((e: Error) => (message = e.message))
    expect(message).to.equal('dlite-routing: unknown request {"op":"reboot"}')
  })
})
