// The exact programs and arguments each platform runs to change a route through the VM (root's work: the helper
// calls these after its checks). macOS cannot run here: its argv is checked against a
// recording runner and representative `netstat`/`ifconfig` output (test/fixtures/darwin-*.txt).
import {expect} from 'chai'

import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {ExecResult, Runner} from 'dlite-kit/exec'

import {darwinRouteCommands, filteredBridgeMembers, findInterfaceWithAddress, linuxRouteCommands, openVmnetHostFilter, routeCommandsFor} from '../../src/network/route-commands.js'

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'routes')
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8')
const VM = {ip: '192.168.64.2', hostIp: '192.168.64.1', bridge: 'dlbr-test'}

interface RecordingRunner extends Runner {
  calls: string[][]
}

function recordingRunner(answer: (argv: string[]) => Partial<ExecResult> | undefined = () => undefined): RecordingRunner {
  const calls: string[][] = []
  const runner = (async (cmd: string, args: string[]) => {
    calls.push([cmd, ...args])
    return {code: 0, stdout: '', stderr: '', ...answer([cmd, ...args])}
  }) as RecordingRunner
  runner.calls = calls
  return runner
}

describe('route commands', () => {
  describe('Linux (iproute2)', () => {
    it('reads the main table as JSON', async () => {
      const runner = recordingRunner(() => ({stdout: fixture('ip-route.json')}))
      const routes = await linuxRouteCommands(runner).readRoutes()
      expect(runner.calls).to.deep.equal([['ip', '-j', '-4', 'route', 'show', 'table', 'main']])
      expect(routes).to.have.length(3)
    })

    it('adds with `ip route replace <subnet> via <vm> dev <bridge>` and removes the same route', async () => {
      const runner = recordingRunner()
      const backend = linuxRouteCommands(runner)
      await backend.addRoute('172.18.0.0/16', VM)
      await backend.removeRoute('172.18.0.0/16', VM)
      expect(runner.calls).to.deep.equal([
        ['ip', 'route', 'replace', '172.18.0.0/16', 'via', '192.168.64.2', 'dev', 'dlbr-test'],
        ['ip', 'route', 'del', '172.18.0.0/16', 'via', '192.168.64.2', 'dev', 'dlbr-test'],
      ])
    })

    it('removing a route that is already gone is not an error; other failures are', async () => {
      const gone = linuxRouteCommands(recordingRunner(() => ({code: 2, stderr: 'RTNETLINK answers: No such process\n'})))
      await gone.removeRoute('172.18.0.0/16', VM)
      const denied = linuxRouteCommands(recordingRunner(() => ({code: 2, stderr: 'RTNETLINK answers: Operation not permitted\n'})))
      let message = ''
      await denied.removeRoute('172.18.0.0/16', VM).catch((error: Error) => (message = error.message))
      expect(message).to.match(/ip route del 172\.18\.0\.0\/16 failed \(exit 2\): RTNETLINK answers: Operation not permitted/)
    })

    it('a failed add carries the program\'s own message', async () => {
      const backend = linuxRouteCommands(recordingRunner(() => ({code: 2, stderr: 'Error: Nexthop has invalid gateway.\n'})))
      let message = ''
      await backend.addRoute('172.18.0.0/16', VM).catch((error: Error) => (message = error.message))
      expect(message).to.equal('ip route replace 172.18.0.0/16 via 192.168.64.2 dev dlbr-test failed (exit 2): Error: Nexthop has invalid gateway.')
    })
  })

  describe('macOS (route, netstat, ifconfig; not run here)', () => {
    const ifconfigAll = fixture('darwin-ifconfig.txt')
    const bridgeBlock = ifconfigAll.slice(ifconfigAll.indexOf('bridge100:'))

    it('reads `netstat -rn -f inet`', async () => {
      const runner = recordingRunner(() => ({stdout: fixture('darwin-netstat-rn.txt')}))
      const routes = await darwinRouteCommands(runner).readRoutes()
      expect(runner.calls).to.deep.equal([['netstat', '-rn', '-f', 'inet']])
      expect(routes.find((r) => r.gateway === '192.168.64.2')?.dst).to.equal('172.17.0.0/16')
    })

    it('adds with `route -n add <subnet> <vm ip>` (the host filter opened first) and deletes with `route -n delete <subnet> <vm ip>`', async () => {
      const runner = recordingRunner((argv) => (argv[0] === 'ifconfig' ? {stdout: ''} : undefined))
      const backend = darwinRouteCommands(runner)
      await backend.addRoute('172.18.0.0/16', VM)
      await backend.removeRoute('172.18.0.0/16', VM)
      expect(runner.calls).to.deep.equal([
        ['ifconfig'], ['ifconfig', 'dlbr-test'],
        ['route', '-n', 'add', '172.18.0.0/16', '192.168.64.2'],
        ['route', '-n', 'delete', '172.18.0.0/16', '192.168.64.2'],
      ])
    })

    it('deleting a route that is not in the table is not an error', async () => {
      const backend = darwinRouteCommands(recordingRunner(() => ({code: 1, stdout: 'route: writing to routing socket: not in table\n'})))
      await backend.removeRoute('172.18.0.0/16', VM)
    })

    it('turns off the host filter of the vmnet bridge member that has it: `ifconfig <bridge> -hostfilter <member>`', async () => {
      const runner = recordingRunner((argv) => {
        if (argv.join(' ') === 'ifconfig') return {stdout: ifconfigAll}
        if (argv.join(' ') === 'ifconfig bridge100') return {stdout: bridgeBlock}
        return undefined
      })
      const done = await openVmnetHostFilter(VM, runner)
      expect(runner.calls).to.deep.equal([['ifconfig'], ['ifconfig', 'bridge100'], ['ifconfig', 'bridge100', '-hostfilter', 'vmenet0']])
      expect(done).to.deep.equal(['ifconfig bridge100 -hostfilter vmenet0'])
    })

    it('finds the bridge by the host address and lists members whose filter is on or not shown', () => {
      expect(findInterfaceWithAddress(ifconfigAll, '192.168.64.1')).to.equal('bridge100')
      expect(findInterfaceWithAddress(ifconfigAll, '192.168.1.23')).to.equal('en0')
      expect(findInterfaceWithAddress(ifconfigAll, '192.168.64.10')).to.equal(undefined)
      expect(filteredBridgeMembers(bridgeBlock)).to.deep.equal(['vmenet0'])
      expect(filteredBridgeMembers('bridge0: flags=1\n\tmember: vmenet3 flags=3<LEARNING,DISCOVER>\n\t        ifmaxaddr 0 port 5\n')).to.deep.equal(['vmenet3'])
    })

    it('falls back to the event\'s bridge name when no interface holds the host address', async () => {
      const runner = recordingRunner((argv) => (argv.length === 1 ? {stdout: ''} : {stdout: ''}))
      expect(await openVmnetHostFilter(VM, runner)).to.deep.equal([])
      expect(runner.calls).to.deep.equal([['ifconfig'], ['ifconfig', 'dlbr-test']])
    })
  })

  it('picks the commands by platform and refuses the others', () => {
    expect(routeCommandsFor('linux').platform).to.equal('linux')
    expect(routeCommandsFor('darwin').platform).to.equal('darwin')
    expect(() => routeCommandsFor('win32')).to.throw(/Linux and macOS hosts, not win32/)
  })
})
