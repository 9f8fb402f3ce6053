// The root helper as an attacker meets it: requests outside its verb set, routes for public or foreign space, a
// peer that is not the registration's owner, an oversized line — each refused before anything is done, and
// logged. The server runs on a real unix socket; the network work is a recording fake.
import {expect} from 'chai'
import {chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync} from 'node:fs'
import {tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'

import {RESOLVER_DIR_ENV} from 'dlite-kit/resolver-file'

import {HostNetworkActions, RefusedRequest, routeRefusal} from '../../src/helper/actions.js'
import {HelperClient, helperRequest, offThreadFdRequester} from '../../src/helper/client.js'
import type {BridgeLink, HostPrivileges} from '../../src/helper/privileges.js'
import {checkRegistration, makeRegistration, parseRegistration, registrationConflicts, type HelperRegistration} from '../../src/helper/registration.js'
import {parseHelperRequest} from '../../src/helper/requests.js'
import {homeId} from '../../src/network/names.js'
import type {PeerCredentials} from '../../src/daemon/peer-check.js'
import {serveHelper, type HelperServer} from '../../src/helper/server.js'
import {homeOwnerProblem} from '../../src/helper/setup-options.js'
import {ensureSystemDirs, helperEnvironment} from '../../src/helper/setup.js'
import {helperSocketPath, registrationPath, systemDirs} from '../../src/helper/system-paths.js'
import type {RouteCommands} from '../../src/network/route-commands.js'
import {loadNative, nativeModulePath} from '../../src/host/native.js'

const OWNER = {uid: 1234, gid: 1234}
const NO_DEVICES = {openTap: () => -1, closeFd: () => {}, bindSocket: () => -1, resolverStateDir: '/nonexistent'}
const BRIDGE = `dlbr-${homeId('/home/ann/.dlite')}`
const registration = (): HelperRegistration => makeRegistration({home: '/home/ann/.dlite', owner: OWNER, subnet: '192.168.64.0/24', hostname: 'local.docker', defaultHome: '/home/ann/.dlite'})

describe('root helper', () => {
  describe('requests', () => {
    it('takes its verbs and nothing else, with exactly their fields', () => {
      expect(parseHelperRequest('{"verb":"network-up"}')).to.deep.equal({verb: 'network-up'})
      expect(parseHelperRequest('{"verb":"route-add","subnet":"172.18.0.0/16"}')).to.deep.equal({verb: 'route-add', subnet: '172.18.0.0/16'})
      for (const [line, why] of [
        ['{"verb":"exec","argv":["sh"]}', /unknown verb "exec"/],
        ['{"verb":"network-up","bridge":"eth0"}', /takes no fields \(got bridge\)/],
        ['{"verb":"route-add","subnet":"172.18.0.0/16","via":"8.8.8.8"}', /takes one field, subnet/],
        ['{"verb":"route-add","subnet":["10.0.0.0/8"]}', /takes one field, subnet/],
        ['{"verb":"dns-socket","protocol":"raw"}', /protocol \(udp or tcp\)/],
        ['{"verb":"resolver-write","domain":"docker","mode":"auto","path":"/etc/passwd"}', /two fields, domain and mode/],
        ['{"verb":"resolver-write","domain":"docker","mode":"anywhere"}', /two fields, domain and mode/],
        ['[1]', /not a JSON object/],
        ['{verb', /not a JSON request/],
      ] as const) {
        const parsed = parseHelperRequest(line)
        expect(parsed, line).to.have.property('refused').that.matches(why)
      }
    })
  })

  describe('registration', () => {
    it('is the home\'s own names and network, and a file out of shape is refused field by field', () => {
      const r = registration()
      // a user's default home gets names of its own, never root's dlite0
      expect(r).to.include({bridge: `dlbr-${r.homeId}`, tap: `dltap-${r.homeId}`, subnet: '192.168.64.0/24', hostname: 'local.docker', hostsFile: '/etc/hosts'})
      expect(parseRegistration(JSON.stringify(r))).to.deep.equal(r)
      for (const [field, value] of [
        ['subnet', '1.1.1.0/24'], ['subnet', '10.0.0.0/8'], ['bridge', 'eth0; reboot'], ['hostname', 'github.com'],
        ['owner', {uid: -1, gid: 0}], ['hostsFile', 'etc/hosts'], ['natTable', 'filter'], ['dnsDomain', 'com'], ['dnsDomain', 'in-addr.arpa'],
      ] as const) {
        expect(() => checkRegistration({...r, [field]: value}), `${field}=${JSON.stringify(value)}`).to.throw(new RegExp(`bad ${field}`))
      }
    })

    it('never takes another home\'s id, bridge, network or DNS domain', () => {
      const ann = registration()
      const bob = makeRegistration({home: '/home/bob/.dlite', owner: {uid: 2000, gid: 2000}, subnet: '192.168.70.0/24', hostname: 'bob.docker', dnsDomain: 'bob.docker', defaultHome: '/home/bob/.dlite'})
      expect(registrationConflicts(ann, [bob, ann])).to.deep.equal([]) // itself again: a re-run of setup
      // the same id for another home or user (a collision the 24-bit id allows, or a home someone else registered)
      const taken = registrationConflicts({...ann, home: '/home/bob/.dlite-profiles/x', owner: {uid: 2000, gid: 2000}}, [ann])
      expect(taken.join()).to.match(/home id .* is registered for \/home\/ann\/\.dlite of uid 1234/)
      expect(registrationConflicts({...bob, subnet: '192.168.64.0/25'}, [ann]).join()).to.match(/overlaps 192\.168\.64\.0\/25/)
      expect(registrationConflicts({...bob, dnsDomain: 'docker'}, [ann]).join()).to.match(/DNS domain docker/)
      expect(registrationConflicts({...bob, bridge: ann.bridge}, [ann]).join()).to.match(/same bridge or tap/)
    })

    it('lives in root\'s directories, which DLITE_SYSTEM_DIR moves as one', () => {
      expect(registrationPath('abc123', systemDirs({}))).to.equal('/etc/dlite/helper/abc123.json')
      expect(helperSocketPath('abc123', systemDirs({}))).to.equal('/run/dlite/helper/abc123.sock')
      expect(helperSocketPath('abc123', systemDirs({DLITE_SYSTEM_DIR: '/tmp/sys'}))).to.equal('/tmp/sys/run/helper/abc123.sock')
      expect(() => registrationPath('../../etc/passwd')).to.throw(/not a dlite home id/)
    })
  })

  describe('routes', () => {
    const table = [{dst: '0.0.0.0/0', gateway: '10.1.0.1', dev: 'eth0'}, {dst: '10.1.0.0/16', dev: 'eth0'}, {dst: '192.168.64.0/24', dev: BRIDGE}]

    it('a public, too broad, misaligned or foreign subnet is refused; a private one clear of other routes is not', () => {
      const r = registration()
      for (const [subnet, why] of [
        ['1.1.1.0/24', /only private \(RFC 1918\)/], ['0.0.0.0/0', /only private/], ['172.0.0.0/8', /only private/], ['100.64.0.0/10', /only private/],
        ['172.18.0.1/16', /not an aligned IPv4 subnet/], ['010.0.0.0/8', /not an aligned/],
        ['192.168.64.0/25', /overlaps the VM's own network/], ['10.1.2.0/24', /already routes 10\.1\.0\.0\/16 dev eth0/],
      ] as const) {
        expect(routeRefusal(subnet, r, table), subnet).to.match(why)
      }
      expect(routeRefusal('172.18.0.0/16', r, table)).to.equal(undefined)
      // a route of ours via the VM is no conflict: adding it again is idempotent
      expect(routeRefusal('172.18.0.0/16', r, [...table, {dst: '172.18.0.0/16', gateway: '192.168.64.2', dev: BRIDGE}])).to.equal(undefined)
    })

    it('adds only via this VM on this bridge, and runs nothing for a refused one', async () => {
      const calls: string[] = []
      const routes: RouteCommands = {
        platform: 'linux',
        readRoutes: async () => table,
        addRoute: async (subnet, vm) => void calls.push(`add ${subnet} via ${vm.ip} dev ${vm.bridge}`),
        removeRoute: async (subnet, vm) => void calls.push(`del ${subnet} via ${vm.ip} dev ${vm.bridge}`),
      }
      const actions = new HostNetworkActions(registration(), {routes, ...NO_DEVICES, linkExists: async () => true})
      let refused: unknown
      await actions.addRoute('8.8.8.0/24').catch((error) => (refused = error))
      expect(refused).to.be.instanceOf(RefusedRequest)
      await actions.addRoute('172.18.0.0/16')
      await actions.removeRoute('172.18.0.0/16')
      expect(calls).to.deep.equal([`add 172.18.0.0/16 via 192.168.64.2 dev ${BRIDGE}`, `del 172.18.0.0/16 via 192.168.64.2 dev ${BRIDGE}`])
    })
  })

  describe('resolver file', () => {
    let dir: string
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'dlite-helper-resolver-'))
    })
    afterEach(() => rmSync(dir, {recursive: true, force: true}))

    // a Mac, invented: the runner records what root would run there
    let ran: string[][]
    const actionsIn = (): HostNetworkActions => new HostNetworkActions(registration(), {
      ...NO_DEVICES, resolverStateDir: join(dir, 'state'),
      resolverHost: {
        platform: 'darwin', env: {[RESOLVER_DIR_ENV]: join(dir, 'resolver')}, exists: () => false,
        run: async (command, args) => (ran.push([command, ...args]), {code: 0, stdout: '', stderr: ''}),
      },
    })
    beforeEach(() => {
      ran = []
    })

    it('is written for the registered domain only, sending it to the bridge address, and removed again', async () => {
      const actions = actionsIn()
      let refused: unknown
      await actions.writeResolver('github.com', 'auto').catch((error) => (refused = error))
      expect(refused).to.be.instanceOf(RefusedRequest).and.have.property('message').that.matches(/for \.docker only.*not \.github\.com/)
      expect(existsSync(join(dir, 'resolver'))).to.equal(false)
      const outcome = await actions.writeResolver('docker', 'macos')
      expect(outcome.files).to.deep.equal([join(dir, 'resolver', 'docker')])
      expect(readFileSync(join(dir, 'resolver', 'docker'), 'utf8')).to.match(/\nnameserver 192\.168\.64\.1\nport 53\n$/)
      const flush = [['/usr/bin/dscacheutil', '-flushcache'], ['/usr/bin/killall', '-HUP', 'mDNSResponder']]
      expect(ran).to.deep.equal(flush)
      expect((await actions.removeResolver()).removed).to.deep.equal([join(dir, 'resolver', 'docker')])
      expect(readdirSync(join(dir, 'resolver'))).to.deep.equal([])
      expect(ran).to.deep.equal([...flush, ...flush])
    })

    it('binds the DNS port on the bridge address only', async () => {
      const asked: string[] = []
      const actions = new HostNetworkActions(registration(), {...NO_DEVICES, bindSocket: (protocol, address, port) => (asked.push(`${protocol} ${address}:${port}`), 7)})
      expect(await actions.dnsSocket('udp')).to.equal(7)
      await actions.dnsSocket('tcp')
      expect(asked).to.deep.equal(['udp 192.168.64.1:53', 'tcp 192.168.64.1:53'])
    })
  })

  describe('socket', function () {
    let dir: string
    let server: HelperServer | undefined
    let peer: PeerCredentials
    let logged: string[]
    let done: string[]

    const fakeActions = (): HostPrivileges => ({
      networkUp: async () => {
        done.push('network-up')
        return {bridge: 'dlite0', tap: 'dlite0-tap', subnet: '192.168.64.0/24', hostIp: '192.168.64.1', vmIp: '192.168.64.2', hostname: 'local.docker'} satisfies BridgeLink
      },
      openTap: async () => {
        done.push('tap-open')
        return openSync('/dev/null', 'r') // stands in for the tap: any descriptor travels the same way
      },
      networkDown: async () => void done.push('network-down'),
      setVmAddress: async (ip) => void done.push(`vm-address ${ip}`),
      addRoute: async (subnet) => {
        if (subnet === '1.1.1.0/24') throw new RefusedRequest('only private (RFC 1918) subnets')
        done.push(`route-add ${subnet}`)
      },
      removeRoute: async (subnet) => void done.push(`route-remove ${subnet}`),
      dnsSocket: async (protocol) => {
        done.push(`dns-socket ${protocol}`)
        return openSync('/dev/null', 'r')
      },
      writeResolver: async (domain) => {
        done.push(`resolver-write ${domain}`)
        return {mode: 'manual', files: [], message: 'by hand'}
      },
      removeResolver: async () => ({removed: [], kept: []}),
    })

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'dlite-helper-'))
      peer = {pid: 42, uid: OWNER.uid, gid: OWNER.gid}
      logged = []
      done = []
      const native = loadNative()
      server = await serveHelper({
        registration, socketPath: join(dir, 'abc123.sock'), actions: fakeActions,
        readCredentials: () => peer, sendFd: (socketFd, text, fd) => native.sendFd(socketFd, text, fd), closeFd: (fd) => native.closeFd(fd),
        log: (line) => logged.push(line),
      })
    })

    afterEach(async () => {
      await server?.close()
      rmSync(dir, {recursive: true, force: true})
    })

    it('is root\'s socket, open to the owner\'s group only (0660)', function () {
      if (process.getuid?.() !== 0) this.skip()
      const st = statSync(join(dir, 'abc123.sock'))
      expect({uid: st.uid, gid: st.gid, mode: st.mode & 0o777}).to.deep.equal({uid: 0, gid: OWNER.gid, mode: 0o660})
    })

    it('serves the owner: network up and down, a private route', async () => {
      const socket = join(dir, 'abc123.sock')
      expect(await helperRequest(socket, {verb: 'network-up'})).to.include({bridge: 'dlite0', vmIp: '192.168.64.2'})
      await helperRequest(socket, {verb: 'route-add', subnet: '172.18.0.0/16'})
      await helperRequest(socket, {verb: 'network-down'})
      expect(done).to.deep.equal(['network-up', 'route-add 172.18.0.0/16', 'network-down'])
      expect(logged.some((line) => /uid 1234 pid 42: route-add "172\.18\.0\.0\/16": done/.test(line))).to.equal(true)
    })

    it('hands the owner the tap and the DNS sockets as descriptors in the answer, without blocking the event loop', async () => {
      const client = new HelperClient(join(dir, 'abc123.sock'), offThreadFdRequester(nativeModulePath()))
      let ticks = 0
      const ticker = setInterval(() => ticks++, 1)
      const tap = await client.openTap()
      const udp = await client.dnsSocket('udp')
      clearInterval(ticker)
      // each stands in for the real thing (/dev/null here): the same file arrives on this side
      for (const fd of [tap, udp]) {
        expect(readlinkSync(`/proc/self/fd/${fd}`)).to.equal('/dev/null')
        closeSync(fd)
      }
      expect(done).to.deep.equal(['tap-open', 'dns-socket udp'])
      // the server answered in this same thread while the requests waited in theirs
      expect(ticks).to.be.above(0)
    })

    it('refuses another user (another member of the group too), and logs it; nothing is done', async () => {
      peer = {pid: 99, uid: 4321, gid: OWNER.gid}
      let error: Error | undefined
      await helperRequest(join(dir, 'abc123.sock'), {verb: 'route-add', subnet: '172.18.0.0/16'}).catch((e: Error) => (error = e))
      expect(error?.message).to.match(/refused: this dlite helper serves uid 1234 only/)
      expect(done).to.deep.equal([])
      expect(logged.some((line) => /refused uid 4321 pid 99/.test(line))).to.equal(true)
    })

    it('refuses the owner a public route and a verb it does not have, and logs each', async () => {
      const socket = join(dir, 'abc123.sock')
      const refusal = (request: unknown) => helperRequest(socket, request as never).then(() => '', (e: Error) => e.message)
      expect(await refusal({verb: 'route-add', subnet: '1.1.1.0/24'})).to.match(/refused: only private/)
      expect(await refusal({verb: 'exec'})).to.match(/refused: unknown verb "exec"/)
      expect(done).to.deep.equal([])
      expect(logged.filter((line) => line.startsWith('refused'))).to.have.length(2)
    })

    it('a request cannot write a line of its own into root\'s log', async () => {
      await helperRequest(join(dir, 'abc123.sock'), {verb: 'route-add', subnet: '1.1.1.0/24\nforged'}).catch(() => {})
      await helperRequest(join(dir, 'abc123.sock'), {verb: 'resolver-write', domain: 'x\n2026 helper: done', mode: 'auto'}).catch(() => {})
      expect(logged.length).to.be.above(1)
      for (const line of logged) expect(line).to.not.contain('\n')
    })

    it('refuses an oversized request unread', async () => {
      const socket = join(dir, 'abc123.sock')
      let error: Error | undefined
      await helperRequest(socket, {verb: 'route-add', subnet: 'x'.repeat(5000)}).catch((e: Error) => (error = e))
      expect(error?.message).to.match(/longer than 1024 bytes/)
      expect(done).to.deep.equal([])
    })

    it('a user whose helper is not running is told how to start it', async () => {
      let error: Error | undefined
      await helperRequest(join(dir, 'none.sock'), {verb: 'network-up'}).catch((e: Error) => (error = e))
      expect(error?.message).to.match(/root helper for this home is not running .*sudo dlite network setup/)
    })
  })
})

describe('root helper directories', () => {
  let base: string
  const saved = process.env.DLITE_SYSTEM_DIR
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'dlite-system-dirs-'))
  })
  afterEach(() => {
    if (saved === undefined) delete process.env.DLITE_SYSTEM_DIR
    else process.env.DLITE_SYSTEM_DIR = saved
    rmSync(base, {recursive: true, force: true})
  })

  it('the helper gets root\'s home and data dir and only its own settings from whoever ran sudo', () => {
    const env = helperEnvironment({
      SUDO_UID: '1000', HOME: '/home/ann', XDG_DATA_HOME: '/home/ann/.local/share', DLITE_DATA_DIR: '/home/ann/plugins', NODE_OPTIONS: '--require /home/ann/x.js',
      PATH: '/home/ann/bin:/usr/bin', DLITE_SYSTEM_DIR: '/srv/dlite', DLITE_DNS_RESOLVER_DIR: '/srv/resolver',
    })
    // nothing of the user's can decide what code root loads: not their plugins, not NODE_OPTIONS, not their PATH
    expect(env).to.deep.equal({
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: userInfo().homedir, DLITE_DATA_DIR: join(userInfo().homedir, '.local', 'share', 'dlite'),
      DLITE_SYSTEM_DIR: '/srv/dlite', DLITE_DNS_RESOLVER_DIR: '/srv/resolver',
    })
  })

  it('root makes nothing in a directory a user owns, and says why', function () {
    if (process.getuid?.() !== 0) this.skip()
    const usersDir = join(base, 'users')
    mkdirSync(usersDir, {mode: 0o755})
    chownSync(usersDir, 1234, 1234)
    process.env.DLITE_SYSTEM_DIR = join(usersDir, 'dlite')
    expect(() => ensureSystemDirs()).to.throw(/refusing to keep the root helper's files in .*owned by uid 1234/)
    expect(readdirSync(usersDir)).to.deep.equal([])
  })

  it('a home is registered only for the user who owns it (or the nearest directory above it that exists)', function () {
    if (process.getuid?.() !== 0) this.skip()
    const anns = join(base, 'ann')
    mkdirSync(anns)
    chownSync(anns, 1234, 1234)
    expect(homeOwnerProblem(join(anns, '.dlite'), 1234)).to.equal(undefined)
    expect(homeOwnerProblem(join(anns, '.dlite'), 2000)).to.include({flag: 'DLITE_HOME'}).and.have.property('message').that.matches(/belongs to uid 1234, not to uid 2000/)
  })

  it('are made, root\'s, where only root may write', function () {
    if (process.getuid?.() !== 0) this.skip()
    chmodSync(base, 0o755)
    process.env.DLITE_SYSTEM_DIR = join(base, 'dlite')
    ensureSystemDirs()
    expect(readdirSync(join(base, 'dlite')).sort()).to.deep.equal(['etc', 'log', 'run'])
  })
})
