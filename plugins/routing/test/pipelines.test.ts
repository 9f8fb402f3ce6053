// The commands' pipelines against a stand-in for the core's plugin API (vmContext, pluginStateDir,
// sendPluginRequest): what is asked of the daemon, what is written, and what a failure leaves behind.
import {expect} from 'chai'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {CommandError} from 'dlite-kit/errors'

import type {Dlite} from '../src/dlite.js'
import {disableRouting, enableRouting, routingStatus} from '../src/pipelines.js'
import {VM} from './helpers.js'

describe('command pipelines', () => {
  let home: string
  let installed: boolean
  let running: boolean
  let requests: unknown[]
  let answer: (request: {op: string}) => unknown

  const stateFile = () => join(home, 'plugins', 'dlite-routing', 'state.json')
  const dlite = () => ({
    vmContext: async () => ({
      home, installed,
      ...(running ? {vm: {home, ip: VM.ip, hostname: 'local.docker', subnet: VM.subnet, hostIp: VM.hostIp, bridge: VM.bridge, docker: {kind: 'unix', socketPath: '/x'}}} : {}),
    }),
    pluginStateDir: (h: string, plugin: string) => join(h, 'plugins', plugin),
    sendPluginRequest: async (h: string, plugin: string, request: {op: string}) => {
      expect(h).to.equal(home)
      expect(plugin).to.equal('dlite-routing')
      requests.push(request)
      return answer(request)
    },
  }) as unknown as Dlite

  const applied = {
    routes: [{subnet: '172.17.0.0/16', network: 'bridge', via: VM.ip, dev: VM.bridge}],
    added: ['172.17.0.0/16'], removed: [], skipped: [], conflicts: [], guest: {parent: 'DOCKER-USER', nic: 'eth0'},
  }

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'dlite-routing-cmd-'))
    installed = true
    running = true
    requests = []
    answer = (request) => (request.op === 'enable' ? applied : {removed: ['172.17.0.0/16'], guestRuleRemoved: true})
  })

  afterEach(() => rmSync(home, {recursive: true, force: true}))

  it('not installed: a runtime error that says to install, nothing written', async () => {
    installed = false
    let error: CommandError | undefined
    await enableRouting(dlite(), 'silent').catch((e: CommandError) => (error = e))
    expect(error).to.be.instanceOf(CommandError)
    expect(error!.message).to.match(/^dlite is not installed in /)
    expect(error!.fix).to.equal('run `dlite install` first')
    expect(error!.exit).to.equal(1)
    expect(existsSync(stateFile())).to.equal(false)
  })

  it('enable with the VM stopped saves the setting for the next start and asks the daemon nothing', async () => {
    running = false
    const outcome = await enableRouting(dlite(), 'silent')
    expect(outcome).to.deep.equal({enabled: true, vmRunning: false, applied: 'next start', routes: [], skipped: []})
    expect(requests).to.deep.equal([])
    expect(JSON.parse(readFileSync(stateFile(), 'utf8')).enabled).to.equal(true)
  })

  it('enable with the VM running asks the daemon to apply, then saves the setting', async () => {
    const outcome = await enableRouting(dlite(), 'silent')
    expect(requests).to.deep.equal([{op: 'enable'}])
    expect(outcome.applied).to.equal('now')
    expect(outcome.routes).to.deep.equal(applied.routes)
    expect(outcome.guestRule).to.deep.equal({parent: 'DOCKER-USER', nic: 'eth0'})
    expect(JSON.parse(readFileSync(stateFile(), 'utf8')).enabled).to.equal(true)
  })

  it('a conflict refused by the daemon comes back as the error, and the setting stays as it was', async () => {
    answer = () => {
      throw new Error('172.17.0.0/16 (docker network bridge) overlaps the host route 172.16.0.0/12 via 10.0.0.254 dev eth0. Nothing was changed.')
    }
    let error: CommandError | undefined
    await enableRouting(dlite(), 'silent').catch((e: CommandError) => (error = e))
    expect(error).to.be.instanceOf(CommandError)
    expect(error!.message).to.contain('overlaps the host route 172.16.0.0/12')
    expect(existsSync(stateFile())).to.equal(false)
  })

  it('when the setting cannot be saved after the daemon applied, the daemon is asked to take it back', async () => {
    mkdirSync(join(home, 'plugins'), {recursive: true})
    writeFileSync(join(home, 'plugins', 'dlite-routing'), 'not a directory')
    let error: CommandError | undefined
    await enableRouting(dlite(), 'silent').catch((e: CommandError) => (error = e))
    expect(error!.message).to.match(/^could not save the setting/)
    expect(requests).to.deep.equal([{op: 'enable'}, {op: 'disable'}])
  })

  it('disable asks the daemon to remove everything, saves the setting, and can run again', async () => {
    const first = await disableRouting(dlite(), 'silent')
    expect(first).to.deep.equal({enabled: false, vmRunning: true, removedRoutes: ['172.17.0.0/16'], guestRuleRemoved: true})
    answer = () => ({removed: [], guestRuleRemoved: true})
    const second = await disableRouting(dlite(), 'silent')
    expect(second.removedRoutes).to.deep.equal([])
    expect(JSON.parse(readFileSync(stateFile(), 'utf8')).enabled).to.equal(false)
    running = false
    expect(await disableRouting(dlite(), 'silent')).to.deep.equal({enabled: false, vmRunning: false, removedRoutes: [], guestRuleRemoved: false})
  })

  it('status: the setting, the daemon\'s report, and a live check of each target', async () => {
    await enableRouting(dlite(), 'silent')
    answer = () => ({
      watching: true, routes: applied.routes, networks: [{name: 'bridge', subnet: '172.17.0.0/16', state: 'routed'}], skipped: [],
      guestRule: 'present', probeTargets: [{network: 'bridge', container: 'web1', ip: '172.17.0.2', port: 80}],
    })
    const probed: string[] = []
    const outcome = await routingStatus(dlite(), 'silent', async (target) => {
      probed.push(`${target.ip}:${target.port}`)
      return {...target, answered: true, outcome: 'open', ms: 3}
    })
    expect(probed).to.deep.equal(['172.17.0.2:80'])
    expect(outcome).to.deep.include({enabled: true, vmRunning: true, vmIp: VM.ip, watching: true, guestRule: 'present'})
    expect(outcome.liveCheck.reachable).to.equal(true)
  })

  it('status with the VM stopped: no daemon, no probes, reachable is unknown (null)', async () => {
    running = false
    const outcome = await routingStatus(dlite(), 'silent', async () => {
      throw new Error('must not probe')
    })
    expect(requests).to.deep.equal([])
    expect(outcome).to.deep.equal({
      enabled: false, vmRunning: false, watching: false, routes: [], networks: [], skipped: [], guestRule: 'not running',
      liveCheck: {method: 'tcp-connect', reachable: null, results: []},
    })
  })
})
