// The daemon-side request handling and the text the commands print. Nothing here listens on port 53: apply is
// exercised with dlite-dns disabled (it must undo the resolver file), serving is covered by dns-service.test.ts
// and the e2e test.
import {expect} from 'chai'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {apply, handleRequest, useResolverHost} from '../src/daemon-side.js'
import {RESOLVER_DIR_ENV, installResolver, realResolverHost, type ResolverHost} from 'dlite-kit/resolver-file'
import type {ServiceStatus} from '../src/protocol.js'
import {namesTable, statusLines} from '../src/render.js'
import {DEFAULT_SETTINGS, writeSettings} from '../src/settings.js'
import {FakeDocker} from './helpers/fake-docker.js'

describe('dlite-dns in the daemon (requests)', () => {
  let home: string
  let host: ResolverHost
  const dlite = {
    pluginStateDir: (h: string, plugin: string) => join(h, 'plugins', plugin),
    dockerClientFor: () => new FakeDocker() as never,
    hostPrivileges: () => { throw new Error('root\'s own VM does its root part itself') },
  }
  const event = () => ({
    home, ip: '192.168.64.2', hostname: 'local.docker', subnet: '192.168.64.0/24', hostIp: '192.168.64.1', bridge: 'dlite0',
    docker: {kind: 'unix' as const, socketPath: '/nonexistent'}, plugin: 'dlite-dns',
  })

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'dlite-dns-daemon-'))
    host = {platform: 'darwin', env: {[RESOLVER_DIR_ENV]: join(home, 'resolver')}, exists: () => false, run: async () => ({code: 0, stdout: '', stderr: ''})}
    useResolverHost(host)
  })

  afterEach(() => {
    useResolverHost(realResolverHost())
    rmSync(home, {recursive: true, force: true})
  })

  it('apply with dlite-dns disabled removes the resolver file it wrote, and serves nothing', async () => {
    const stateDir = join(home, 'plugins', 'dlite-dns')
    await installResolver({stateDir, setting: 'auto', domain: 'docker', address: {host: '192.168.64.1', port: 53}, host})
    expect(existsSync(join(home, 'resolver', 'docker'))).to.equal(true)
    writeSettings(stateDir, {...DEFAULT_SETTINGS, enabled: false})
    const status = await apply(event(), dlite, () => {})
    expect(status.removed?.removed).to.deep.equal([join(home, 'resolver', 'docker')])
    expect(existsSync(join(home, 'resolver', 'docker'))).to.equal(false)
    expect(status).to.deep.include({enabled: false, serving: false, listening: []})
  })

  it('status works without a service; names says how to enable; unknown requests are errors', async () => {
    const status = await handleRequest({...event(), request: {op: 'status'}}, dlite, () => {}) as ServiceStatus
    expect(status).to.deep.include({enabled: false, serving: false, events: 'off'})
    const names = await handleRequest({...event(), request: {op: 'names'}}, dlite, () => {}).catch((e: Error) => e)
    expect((names as Error).message).to.match(/dlite dns enable/)
    const odd = await handleRequest({...event(), request: {op: 'explode'}}, dlite, () => {}).catch((e: Error) => e)
    expect((odd as Error).message).to.match(/does not understand/)
  })
})

describe('dlite-dns text output', () => {
  const serving: ServiceStatus = {
    enabled: true, serving: true, domain: 'docker', listening: ['192.168.64.1:53'], containers: 2, names: 5, events: 'connected',
    containerDns: {wanted: true, active: false}, upstreams: [],
    resolver: {mode: 'manual', files: [], message: 'dlite-dns did not change the host resolver (manual step)'},
    queries: {answer: 3, nodata: 1, nxdomain: 2, forwarded: 0, refused: 1, error: 0},
  }

  it('status says where it serves, what containers do, and the manual step', () => {
    const lines = statusLines({...DEFAULT_SETTINGS, enabled: true}, true, serving)
    expect(lines[0]).to.equal('dlite-dns: enabled for *.docker (TTL 0)')
    expect(lines).to.include('serving on 192.168.64.1:53 (UDP and TCP)')
    expect(lines).to.include('other names: refused (no upstream)')
    expect(lines.join('\n')).to.contain('from the next start')
    expect(lines.join('\n')).to.contain('manual step')
  })

  it('status when dlite is stopped, or the daemon does not know the plugin', () => {
    expect(statusLines({...DEFAULT_SETTINGS, enabled: true}, false)).to.deep.equal(['dlite-dns: enabled for *.docker (TTL 0)', 'dlite is not running: serving starts with `dlite start`'])
    expect(statusLines(DEFAULT_SETTINGS, true, undefined, 'plugin dlite-dns did not answer')[1]).to.equal('daemon: plugin dlite-dns did not answer')
  })

  it('ls is an aligned table', () => {
    const lines = namesTable({domain: 'docker', names: [
      {name: 'busybox.docker', ttl: 0, ipv4: ['172.17.0.2', '172.17.0.3'], ipv6: [], sources: ['db', 'web']},
      {name: 'local.docker', ttl: 0, ipv4: ['192.168.64.2'], ipv6: [], sources: ['(vm)']},
    ]})
    expect(lines).to.deep.equal([
      'NAME            ADDRESSES               TTL  ANSWERED BY',
      'busybox.docker  172.17.0.2, 172.17.0.3  0    db, web',
      'local.docker    192.168.64.2            0    (vm)',
    ])
    expect(namesTable({domain: 'docker', names: []})).to.deep.equal(['No names under *.docker yet: start a container.'])
  })
})
