// Two DLITE_HOMEs with different subnets and sockets run side by side in one namespace: each has its own
// bridge, tap, NAT table, hosts line, docker socket and context, and stopping one leaves the other alone.
import {expect} from 'chai'
import {mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BUILT_OS_MANIFEST, dliteCli, printLogsOnFailure, type CliRunner} from '../helpers/dlite-cli.js'
import {createNetns, type Netns} from '../helpers/netns.js'

describe('two dlite homes side by side (e2e, two VMs)', function () {
  this.timeout(20 * 60_000)
  let ns: Netns
  let dir: string
  const homes = [
    {name: 'a', subnet: '192.168.64.0/24', ip: '192.168.64.2', hostname: 'a.docker'},
    {name: 'b', subnet: '192.168.65.0/24', ip: '192.168.65.2', hostname: 'b.docker'},
  ]
  const clis: CliRunner[] = []
  const socket = (name: string) => join(dir, name, 'run', 'docker.sock')

  before(async () => {
    ns = await createNetns('dlite-two')
    dir = mkdtempSync(join(tmpdir(), 'dlite-two-'))
    mkdirSync(join(dir, 'docker-config'))
    for (const home of homes) clis.push(dliteCli({DLITE_HOME: join(dir, home.name, 'home'), DOCKER_CONFIG: join(dir, 'docker-config')}, ns))
  })

  afterEach(function () {
    for (const home of homes) printLogsOnFailure(() => dir && join(dir, home.name, 'home')).call(this)
  })

  after(async () => {
    for (const cli of clis) await cli(['stop', '--timeout', '5']).catch(() => {})
    await ns?.remove()
    rmSync(dir, {recursive: true, force: true})
  })

  it('installs and starts both', async () => {
    for (const [i, home] of homes.entries()) {
      const installed = await clis[i](['install', '--yes', '--network', 'bridged', '--os', BUILT_OS_MANIFEST, '-c', '1', '-m', '1', '-d', '8',
        '-n', home.hostname, '--subnet', home.subnet, '--share', dir, '--docker-socket', socket(home.name), '--ssh-key', 'none'])
      expect(installed.code, installed.stderr).to.equal(0)
    }
    // Started one after the other: two TCG boots at once on two cores only slow each other down.
    for (const cli of clis) {
      const started = await cli(['start', '--timeout', '500'], {timeoutMs: 520_000})
      expect(started.code, started.stderr).to.equal(0)
    }
  })

  it('each answers on its own address, socket and hosts line', async () => {
    const hosts = readFileSync(ns.hostsFile, 'utf8')
    for (const [i, home] of homes.entries()) {
      expect(hosts).to.match(new RegExp(`^${home.ip.replaceAll('.', '\\.')}\\s+${home.hostname.replace('.', '\\.')}\\s+# added by dlite`, 'm'))
      expect((await clis[i](['ip'])).stdout.trim()).to.equal(home.ip)
      const version = await ns.run('docker', ['-H', `unix://${socket(home.name)}`, 'info', '--format', '{{.Name}}'], {timeoutMs: 60_000})
      expect(version.code, version.stderr).to.equal(0)
      expect(version.stdout.trim()).to.equal(home.hostname)
    }
    const links = (await ns.run('ip', ['-br', 'link'])).stdout
    expect(links.match(/dlbr-/g)).to.have.length(2)
  })

  it('stopping one leaves the other running and its hosts line in place', async () => {
    expect((await clis[0](['stop'], {timeoutMs: 120_000})).code).to.equal(0)
    const hosts = readFileSync(ns.hostsFile, 'utf8')
    expect(hosts).not.to.contain(homes[0].hostname)
    expect(hosts).to.contain(homes[1].hostname)
    const status = await clis[1].json<{state: string}>(['status'])
    expect(status.body.state).to.equal('running')
    const version = await ns.run('docker', ['-H', `unix://${socket('b')}`, 'version'], {timeoutMs: 60_000})
    expect(version.code).to.equal(0)
    expect((await clis[1](['stop'], {timeoutMs: 120_000})).code).to.equal(0)
  })
})
