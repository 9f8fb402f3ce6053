// A bridged VM on macOS: vmnet through socket_vmnet. No Mac runs here, so the Mac's parts are stand-ins, and each
// says so: socket_vmnet's facts (installed, listening), the root helper (a recording fake, or the real actions on a
// temporary hosts file with a recording runner and an `ifconfig` transcript for the route), the guest's markers.
// What is real: QEMU's argv, the guest settings file, the driver's rules, the helper's checks.
import {expect} from 'chai'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {ExecResult, Runner} from 'dlite-kit/exec'

import {networkDriverFor} from '../../src/daemon/network-drivers/choose.js'
import {BridgedNetworkDriver} from '../../src/daemon/network-drivers/bridged.js'
import type {VmNetwork} from '../../src/daemon/network-drivers/driver.js'
import {UserNetworkDriver} from '../../src/daemon/network-drivers/user.js'
import {VmnetNetworkDriver, type VmnetDriverOptions} from '../../src/daemon/network-drivers/vmnet.js'
import {DHCP_ADDRESS, buildSettingsBundle, renderSettingsEnv, SettingsError} from '../../src/guest/settings.js'
import {HostNetworkActions, RefusedRequest} from '../../src/helper/actions.js'
import type {BridgeLink, HostPrivileges} from '../../src/helper/privileges.js'
import {makeRegistration} from '../../src/helper/registration.js'
import {parseHelperRequest} from '../../src/helper/requests.js'
import {vmAddressRefusal} from '../../src/helper/vmnet-host.js'
import {buildQemuArgv, QemuSpecError, type VmSpec} from '../../src/hypervisor/qemu-argv.js'
import {homeId} from '../../src/network/names.js'
import {darwinRouteCommands} from '../../src/network/route-commands.js'
import {parseSubnet} from '../../src/network/subnet.js'
import {socketVmnetNotReady, vmnetGuestAddress, vmnetMac, VMNET_DEFAULT_SUBNET, type SocketVmnetFacts} from '../../src/network/vmnet.js'
import {parseMarker} from '../../src/vm/marker-watch.js'

const SUBNET = parseSubnet(VMNET_DEFAULT_SUBNET)
const HOME = '/Users/ann/.dlite'
const ID = homeId(HOME)
// socket_vmnet as `brew install socket_vmnet` and `sudo brew services start socket_vmnet` leave it (invented facts)
const RUNNING: SocketVmnetFacts = {binary: '/opt/homebrew/opt/socket_vmnet/bin/socket_vmnet', binaryExists: true, socket: '/opt/homebrew/var/run/socket_vmnet', socketExists: true}

describe('vmnet (macOS, through socket_vmnet)', () => {
  describe('QEMU argv', () => {
    const base: VmSpec = {accel: 'hvf', arch: 'aarch64', cpus: 2, memoryMiB: 2048, kernel: '/img/Image'}

    it('connects QEMU itself to socket_vmnet\'s socket as a stream client, with the home\'s MAC', () => {
      const {args} = buildQemuArgv({...base, net: {type: 'stream', path: RUNNING.socket, mac: '02:64:6C:AB:CD:EF'}})
      const at = args.indexOf('-netdev')
      expect(args.slice(at, at + 4)).to.deep.equal([
        '-netdev', 'stream,id=net0,server=off,addr.type=unix,addr.path=/opt/homebrew/var/run/socket_vmnet',
        '-device', 'virtio-net-pci,netdev=net0,mac=02:64:6c:ab:cd:ef',
      ])
    })

    it('checks the socket path as every other path (absolute, commas doubled, no newline)', () => {
      expect(() => buildQemuArgv({...base, net: {type: 'stream', path: 'var/run/socket_vmnet'}})).to.throw(QemuSpecError, /stream socket path must be an absolute path/)
      expect(() => buildQemuArgv({...base, net: {type: 'stream', path: '/tmp/a\nb'}})).to.throw(QemuSpecError, /newline/)
      const {args} = buildQemuArgv({...base, net: {type: 'stream', path: '/tmp/a,server=on'}})
      expect(args[args.indexOf('-netdev') + 1]).to.equal('stream,id=net0,server=off,addr.type=unix,addr.path=/tmp/a,,server=on')
      expect(() => buildQemuArgv({...base, net: {type: 'stream', path: RUNNING.socket, mac: 'zz'}})).to.throw(QemuSpecError, /MAC/)
    })
  })

  describe('its facts', () => {
    it('gives each home a MAC of its own, locally administered, the same at every start', () => {
      expect(vmnetMac('a1b2c3')).to.equal('02:64:6c:a1:b2:c3')
      expect(vmnetMac(ID)).to.equal(vmnetMac(homeId(HOME))).and.not.equal(vmnetMac(homeId('/Users/bob/.dlite')))
      expect(() => vmnetMac('nope')).to.throw(/home id/)
    })

    it('says what to do when socket_vmnet is missing or not running', () => {
      expect(socketVmnetNotReady(RUNNING, '/opt/homebrew')).to.equal(undefined)
      const stopped = socketVmnetNotReady({...RUNNING, socketExists: false}, '/opt/homebrew')
      expect(stopped?.message).to.equal('socket_vmnet is installed but not running: no socket at /opt/homebrew/var/run/socket_vmnet')
      expect(stopped?.fix).to.contain('sudo /opt/homebrew/bin/brew services start socket_vmnet')
      const missing = socketVmnetNotReady({...RUNNING, binaryExists: false, socketExists: false}, '/usr/local')
      expect(missing?.fix).to.match(/^brew install socket_vmnet, then start it as root once: sudo \/usr\/local\/bin\/brew services start socket_vmnet/)
    })

    it('reads the guest\'s lease from its marker, inside socket_vmnet\'s network only', () => {
      const text = (line: string) => parseMarker(line)!.text
      expect(vmnetGuestAddress(text('DLITE-READY address 192.168.105.7/24 3.21'), SUBNET)).to.equal('192.168.105.7')
      expect(vmnetGuestAddress(text('DLITE-READY docker 9.5'), SUBNET)).to.equal(undefined)
      expect(vmnetGuestAddress('address 999.1.1.1/24', SUBNET)).to.equal(undefined)
      for (const other of ['address 192.168.64.3/24', 'address 192.168.105.1/24', 'address 192.168.105.255/24', 'address 192.168.105.7/16']) {
        expect(() => vmnetGuestAddress(other, SUBNET), other).to.throw(/another --vmnet-gateway.*sudo dlite network setup --subnet/)
      }
    })
  })

  describe('guest settings', () => {
    it('tell the guest to take its address from DHCP (IP=dhcp), with the Mac as host.docker.internal and the NIC by MAC', () => {
      const env = renderSettingsEnv({hostname: 'local.docker', network: {address: DHCP_ADDRESS, prefix: 24, hostAddress: '192.168.105.1', mac: '02:64:6C:A1:B2:C3'}})
      expect(env).to.equal('# dlite guest settings (generated by the host)\nHOSTNAME=local.docker\nIP=dhcp\nHOST_ADDR=192.168.105.1\nMAC=02:64:6c:a1:b2:c3\n')
      expect(() => buildSettingsBundle({hostname: 'local.docker', network: {address: 'dhcpx', prefix: 24}})).to.throw(SettingsError, /not an IPv4 address \(nor dhcp\)/)
      // a static address renders as before
      expect(renderSettingsEnv({hostname: 'h', network: {address: '192.168.64.2', prefix: 24}})).to.contain('\nIP=192.168.64.2/24\n')
    })
  })

  describe('the network driver', () => {
    // the root helper, as a recording fake
    let calls: string[]
    const helper = (overrides: Partial<HostPrivileges> = {}): HostPrivileges => ({
      networkUp: async () => {
        calls.push('network-up')
        return {bridge: `dlbr-${ID}`, tap: `dltap-${ID}`, subnet: SUBNET.cidr, hostIp: SUBNET.hostIp, vmIp: SUBNET.vmIp, hostname: 'local.docker'} satisfies BridgeLink
      },
      openTap: async () => {
        throw new Error('no tap on macOS')
      },
      networkDown: async () => void calls.push('network-down'),
      setVmAddress: async (ip) => void calls.push(`vm-address ${ip}`),
      addRoute: async () => {},
      removeRoute: async () => {},
      dnsSocket: async () => -1,
      writeResolver: async () => ({mode: 'manual', files: [], message: ''}),
      removeResolver: async () => ({removed: [], kept: []}),
      ...overrides,
    })
    beforeEach(() => {
      calls = []
    })
    const driver = (options: Partial<VmnetDriverOptions> = {}) => new VmnetNetworkDriver({
      subnet: SUBNET, hostname: 'local.docker', homeId: ID, privileges: helper(), probe: () => RUNNING, homebrewPrefix: '/opt/homebrew',
      onAddress: async (ip) => void calls.push(`known_hosts ${ip}`), ...options,
    })
    const report = (network: VmNetwork, line: string) => network.learnsAddress!.onMarker(parseMarker(line)!)

    it('refuses to start without socket_vmnet listening, naming the command, before asking the helper anything', async () => {
      let message = ''
      await driver({probe: () => ({...RUNNING, socketExists: false})}).setUp().catch((error: Error) => (message = error.message))
      expect(message).to.equal('socket_vmnet is installed but not running: no socket at /opt/homebrew/var/run/socket_vmnet. '
        + 'Fix: start it as root once (it comes back at every boot): sudo /opt/homebrew/bin/brew services start socket_vmnet')
      expect(calls).to.deep.equal([])
    })

    it('hands QEMU the socket, the guest DHCP, and the host the address the guest reports', async () => {
      const network = await driver().setUp()
      expect(network).to.deep.include({
        mode: 'bridged', inheritFds: [],
        qemu: {type: 'stream', path: '/opt/homebrew/var/run/socket_vmnet', mac: vmnetMac(ID)},
        guest: {address: 'dhcp', prefix: 24, hostAddress: '192.168.105.1', mac: vmnetMac(ID)},
      })
      // dockerd's certificate is checked against the hostname it names: the lease came after it was made
      expect(network.docker).to.deep.equal({host: '192.168.105.2', port: 2376, servername: 'local.docker'})
      expect(network.routableIp).to.equal(undefined)
      const learnt = network.learnsAddress!.learnt()
      report(network, 'DLITE-STAGE network 4.2')
      report(network, 'DLITE-READY address 192.168.105.7/24 4.3')
      expect(await learnt).to.equal('192.168.105.7')
      expect(network.docker.host).to.equal('192.168.105.7')
      expect(network.ssh).to.deep.equal({host: '192.168.105.7', port: 22})
      expect(network.routableIp).to.equal('192.168.105.7')
      expect((network.portTransport(async () => '') as unknown as {targetHost: string}).targetHost).to.equal('192.168.105.7')
      // asked again (a restart of the daemon's wait): known already; the same lease again changes nothing
      report(network, 'DLITE-READY address 192.168.105.7/24 9.9')
      expect(await network.learnsAddress!.learnt()).to.equal('192.168.105.7')
      expect(calls).to.deep.equal(['network-up', 'vm-address 192.168.105.7', 'known_hosts 192.168.105.7'])
      await driver().tearDown()
      expect(calls.at(-1)).to.equal('network-down')
    })

    it('fails the wait with the fix when the lease is outside the network, the helper refuses, or nothing comes', async () => {
      const outside = await driver().setUp()
      const waiting = outside.learnsAddress!.learnt()
      report(outside, 'DLITE-READY address 192.168.64.3/24 4.3')
      let message = ''
      await waiting.catch((error: Error) => (message = error.message))
      expect(message).to.match(/got 192\.168\.64\.3\/24 from vmnet's DHCP, outside 192\.168\.105\.0\/24/)

      const refused = await driver({privileges: helper({setVmAddress: async () => {
        throw new Error('the root helper: refused: nope')
      }})}).setUp()
      report(refused, 'DLITE-READY address 192.168.105.9/24 4.3')
      message = ''
      await refused.learnsAddress!.learnt().catch((error: Error) => (message = error.message))
      expect(message).to.equal('the host could not follow the VM\'s address 192.168.105.9: the root helper: refused: nope')

      const silent = await driver({addressTimeoutMs: 20}).setUp()
      message = ''
      await silent.learnsAddress!.learnt().catch((error: Error) => (message = error.message))
      expect(message).to.match(/did not report an address from vmnet's DHCP within 0\.02 s.*dlite update --os/)
    })

    it('is what a bridged home gets on darwin; Linux keeps its bridge and tap, user mode stays user mode', () => {
      const config = {network: 'bridged' as const, hostname: 'local.docker', subnet: SUBNET.cidr, owner: {uid: 501, gid: 20, home: '/Users/ann'}}
      const choice = {home: HOME, subnet: SUBNET, privileges: helper(), probeSocketVmnet: () => RUNNING, env: {}, arch: 'arm64'}
      expect(networkDriverFor(config, {...choice, platform: 'darwin'})).to.be.instanceOf(VmnetNetworkDriver)
      expect(networkDriverFor(config, {...choice, platform: 'linux'})).to.be.instanceOf(BridgedNetworkDriver)
      expect(networkDriverFor({...config, network: 'user'}, {...choice, platform: 'darwin'})).to.be.instanceOf(UserNetworkDriver)
    })
  })

  describe('the root helper on a Mac', () => {
    let dir: string
    let hostsFile: string
    let ran: string[][]
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'dlite-vmnet-'))
      hostsFile = join(dir, 'hosts')
      writeFileSync(hostsFile, '127.0.0.1 localhost\n')
      ran = []
    })
    afterEach(() => rmSync(dir, {recursive: true, force: true}))

    // `ifconfig` and `ifconfig bridge100` as a Mac with socket_vmnet's vmnet bridge up would print them (invented)
    const IFCONFIG = 'lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384\n\tinet 127.0.0.1 netmask 0xff000000\n'
      + 'bridge100: flags=8a63<UP,BROADCAST,SMART,RUNNING,ALLMULTI,SIMPLEX,MULTICAST> mtu 1500\n\tinet 192.168.105.1 netmask 0xffffff00 broadcast 192.168.105.255\n'
    const BRIDGE100 = `${IFCONFIG.split('\n').slice(2).join('\n')}\tmember: vmenet0 flags=3<LEARNING,DISCOVER>\n\t        ifmaxaddr 0 port 20 priority 0 path cost 0\n\t        hostfilter 1 hw: 2:64:6c:a1:b2:c3 ip: 192.168.105.7\n`
    const runner: Runner = async (cmd, args) => {
      ran.push([cmd, ...args])
      const stdout = cmd === 'ifconfig' ? (args.length === 0 ? IFCONFIG : BRIDGE100) : cmd === 'netstat' ? 'Routing tables\n\nInternet:\nDestination        Gateway            Flags               Netif Expire\ndefault            192.168.1.1        UGScg                 en0\n' : ''
      return {code: 0, stdout, stderr: ''} satisfies ExecResult
    }
    const actions = () => new HostNetworkActions(
      makeRegistration({home: HOME, owner: {uid: 501, gid: 20}, subnet: VMNET_DEFAULT_SUBNET, hostname: 'local.docker', hostsFile, defaultHome: HOME}),
      {openTap: () => -1, closeFd: () => {}, bindSocket: () => -1, resolverStateDir: join(dir, 'resolver'), platform: 'darwin', routes: darwinRouteCommands(runner), vmAddressFile: join(dir, `${ID}.vm-address`)},
    )

    it('makes nothing at network-up and opens no tap (socket_vmnet has the interface)', async () => {
      expect((await actions().networkUp()).subnet).to.equal('192.168.105.0/24')
      let refused: unknown
      await actions().openTap().catch((error) => (refused = error))
      expect(refused).to.be.instanceOf(RefusedRequest).and.have.property('message').that.matches(/no tap on macOS/)
      expect(readFileSync(hostsFile, 'utf8')).to.equal('127.0.0.1 localhost\n')
      expect(ran).to.deep.equal([])
    })

    it('names the reported address local.docker in the hosts file, routes via it (host filter opened), and forgets it at network-down', async () => {
      let refused: unknown
      await actions().addRoute('172.17.0.0/16').catch((error) => (refused = error))
      expect(refused).to.be.instanceOf(RefusedRequest).and.have.property('message').that.matches(/address on vmnet is not known/)
      await actions().setVmAddress('192.168.105.7')
      expect(readFileSync(hostsFile, 'utf8')).to.equal(`127.0.0.1 localhost\n192.168.105.7 local.docker # added by dlite ${ID}\n`)
      await actions().addRoute('172.17.0.0/16')
      await actions().removeRoute('172.17.0.0/16')
      expect(ran).to.deep.equal([
        ['netstat', '-rn', '-f', 'inet'], ['ifconfig'], ['ifconfig', 'bridge100'], ['ifconfig', 'bridge100', '-hostfilter', 'vmenet0'],
        ['route', '-n', 'add', '172.17.0.0/16', '192.168.105.7'], ['route', '-n', 'delete', '172.17.0.0/16', '192.168.105.7'],
      ])
      // a new lease replaces the line
      await actions().setVmAddress('192.168.105.8')
      expect(readFileSync(hostsFile, 'utf8')).to.equal(`127.0.0.1 localhost\n192.168.105.8 local.docker # added by dlite ${ID}\n`)
      await actions().networkDown()
      expect(readFileSync(hostsFile, 'utf8')).to.equal('127.0.0.1 localhost\n')
    })

    it('refuses an address that is not a VM\'s on the registered network, and any address on Linux', async () => {
      for (const ip of ['192.168.64.2', '192.168.105.1', '192.168.105.0', '192.168.105.255', '192.168.105.07', 'local.docker']) {
        let refused: unknown
        await actions().setVmAddress(ip).catch((error) => (refused = error))
        expect(refused, ip).to.be.instanceOf(RefusedRequest)
      }
      expect(vmAddressRefusal('192.168.105.300', SUBNET)).to.match(/not an IPv4 address/)
      expect(readFileSync(hostsFile, 'utf8')).to.equal('127.0.0.1 localhost\n')
      const linux = new HostNetworkActions(makeRegistration({home: HOME, owner: {uid: 501, gid: 20}, subnet: '192.168.64.0/24', hostname: 'local.docker', hostsFile, defaultHome: HOME}),
        {openTap: () => -1, closeFd: () => {}, bindSocket: () => -1, resolverStateDir: dir, platform: 'linux'})
      let refused: unknown
      await linux.setVmAddress('192.168.64.5').catch((error) => (refused = error))
      expect(refused).to.be.instanceOf(RefusedRequest).and.have.property('message').that.matches(/only a vmnet VM \(macOS\) reports its own/)
    })

    it('takes vm-address with one field, ip, and nothing else', () => {
      expect(parseHelperRequest('{"verb":"vm-address","ip":"192.168.105.7"}')).to.deep.equal({verb: 'vm-address', ip: '192.168.105.7'})
      for (const line of ['{"verb":"vm-address"}', '{"verb":"vm-address","ip":7}', '{"verb":"vm-address","ip":"1.2.3.4","x":1}', '{"verb":"vm-address","ip":"1111111111111111"}']) {
        expect(parseHelperRequest(line), line).to.have.property('refused').that.matches(/vm-address takes one field, ip/)
      }
    })
  })
})
