// The exact programs and arguments each platform runs. macOS cannot run here: its argv is checked against a
// recording runner and representative `netstat`/`ifconfig` output (test/fixtures/darwin-*.txt).
import {expect} from 'chai'

import {backendFor, darwinBackend, filteredBridgeMembers, findInterfaceWithAddress, linuxBackend} from '../src/route-backend.js'
import {fixture, recordingRunner, VM} from './helpers.js'

describe('route backends', () => {
  describe('Linux (iproute2)', () => {
    it('reads the main table as JSON', async () => {
      const runner = recordingRunner(() => ({stdout: fixture('ip-route.json')}))
      const routes = await linuxBackend(runner).readRoutes()
      expect(runner.calls).to.deep.equal([['ip', '-j', '-4', 'route', 'show', 'table', 'main']])
      expect(routes).to.have.length(3)
    })

    it('adds with `ip route replace <subnet> via <vm> dev <bridge>` and removes the same route', async () => {
      const runner = recordingRunner()
      const backend = linuxBackend(runner)
      await backend.addRoute('172.18.0.0/16', VM)
      await backend.removeRoute('172.18.0.0/16', VM)
      expect(runner.calls).to.deep.equal([
        ['ip', 'route', 'replace', '172.18.0.0/16', 'via', '192.168.64.2', 'dev', 'dlbr-test'],
        ['ip', 'route', 'del', '172.18.0.0/16', 'via', '192.168.64.2', 'dev', 'dlbr-test'],
      ])
      expect(await backend.prepareLink(VM)).to.deep.equal([])
    })

    it('removing a route that is already gone is not an error; other failures are', async () => {
      const gone = linuxBackend(recordingRunner(() => ({code: 2, stderr: 'RTNETLINK answers: No such process\n'})))
      await gone.removeRoute('172.18.0.0/16', VM)
      const denied = linuxBackend(recordingRunner(() => ({code: 2, stderr: 'RTNETLINK answers: Operation not permitted\n'})))
      let message = ''
      await denied.removeRoute('172.18.0.0/16', VM).catch((error: Error) => (message = error.message))
      expect(message).to.match(/ip route del 172\.18\.0\.0\/16 failed \(exit 2\): RTNETLINK answers: Operation not permitted/)
    })

    it('a failed add carries the program\'s own message', async () => {
      const backend = linuxBackend(recordingRunner(() => ({code: 2, stderr: 'Error: Nexthop has invalid gateway.\n'})))
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
      const routes = await darwinBackend(runner).readRoutes()
      expect(runner.calls).to.deep.equal([['netstat', '-rn', '-f', 'inet']])
      expect(routes.find((r) => r.gateway === '192.168.64.2')?.dst).to.equal('172.17.0.0/16')
    })

    it('adds with `route -n add <subnet> <vm ip>` and deletes with `route -n delete <subnet> <vm ip>`', async () => {
      const runner = recordingRunner()
      const backend = darwinBackend(runner)
      await backend.addRoute('172.18.0.0/16', VM)
      await backend.removeRoute('172.18.0.0/16', VM)
      expect(runner.calls).to.deep.equal([
        ['route', '-n', 'add', '172.18.0.0/16', '192.168.64.2'],
        ['route', '-n', 'delete', '172.18.0.0/16', '192.168.64.2'],
      ])
    })

    it('deleting a route that is not in the table is not an error', async () => {
      const backend = darwinBackend(recordingRunner(() => ({code: 1, stdout: 'route: writing to routing socket: not in table\n'})))
      await backend.removeRoute('172.18.0.0/16', VM)
    })

    it('turns off the host filter of the vmnet bridge member that has it: `ifconfig <bridge> -hostfilter <member>`', async () => {
      const runner = recordingRunner((argv) => {
        if (argv.join(' ') === 'ifconfig') return {stdout: ifconfigAll}
        if (argv.join(' ') === 'ifconfig bridge100') return {stdout: bridgeBlock}
        return undefined
      })
      const done = await darwinBackend(runner).prepareLink(VM)
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
      expect(await darwinBackend(runner).prepareLink(VM)).to.deep.equal([])
      expect(runner.calls).to.deep.equal([['ifconfig'], ['ifconfig', 'dlbr-test']])
    })
  })

  it('the backend in use refuses a route for public or too-broad space before any program runs, on both platforms', async () => {
    for (const platform of ['linux', 'darwin'] as const) {
      const runner = recordingRunner()
      const backend = backendFor(platform, runner)
      for (const subnet of ['1.1.1.0/24', '0.0.0.0/0', '172.0.0.0/8', '100.64.0.0/10', 'not-a-subnet', '010.0.0.0/8']) {
        let refused: Error | undefined
        await backend.addRoute(subnet, VM).catch((error: Error) => (refused = error))
        expect(refused?.message, `${platform} ${subnet}`).to.match(/refusing a host route for .*only private \(RFC 1918\)/)
      }
      expect(runner.calls, platform).to.deep.equal([])
      await backend.addRoute('172.18.0.0/16', VM)
      expect(runner.calls, platform).to.have.length(1)
    }
  })

  it('picks the backend by platform and refuses the others', () => {
    expect(backendFor('linux').platform).to.equal('linux')
    expect(backendFor('darwin').platform).to.equal('darwin')
    expect(() => backendFor('win32')).to.throw(/Linux and macOS hosts, not win32/)
  })
})
