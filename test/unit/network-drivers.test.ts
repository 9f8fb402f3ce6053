// The daemon's network seam: what each driver hands the daemon, as data. The user-mode driver needs nothing
// but free loopback ports; the bridged driver's host side (bridge, tap, NAT) is covered by the e2e tests.
import {expect} from 'chai'
import {createServer} from 'node:net'

import {chooseShareTransport, describeShares, fileEventRoots, planShares, VIRTIOFSD_AS_USER_FIX, virtiofsdArgs} from '../../src/daemon/share-server.js'
import {findVirtiofsds, parseVirtiofsdVersion} from '../../src/hypervisor/qemu-binary.js'
import {UserNetworkDriver, USER_GUEST_IP, USER_HOST_ALIAS} from '../../src/daemon/network-drivers/user.js'
import {guestAddress} from '../../src/daemon/network-drivers/driver.js'
import {buildQemuArgv} from '../../src/hypervisor/qemu-argv.js'

describe('network drivers', () => {
  it('user: forwards dockerd and sshd from two different free 127.0.0.1 ports, and tells the guest where the host is', async () => {
    const network = await new UserNetworkDriver().setUp()
    expect(network.mode).to.equal('user')
    expect(network.docker.host).to.equal('127.0.0.1')
    expect(network.ssh.host).to.equal('127.0.0.1')
    expect(network.docker.port).to.not.equal(network.ssh.port)
    expect(network.routableIp).to.equal(undefined)
    expect(guestAddress(network)).to.equal(USER_GUEST_IP)
    expect(network.guest).to.deep.include({address: USER_GUEST_IP, gateway: USER_HOST_ALIAS, hostAddress: USER_HOST_ALIAS})
    expect(network.inheritFds).to.deep.equal([])
    // both ports really are free: something can listen on each right now
    for (const port of [network.docker.port, network.ssh.port]) {
      await new Promise<void>((resolve, reject) => {
        const server = createServer().once('error', reject).listen(port, '127.0.0.1', () => server.close(() => resolve()))
      })
    }
    const {args} = buildQemuArgv({accel: 'tcg', cpus: 1, memoryMiB: 256, kernel: '/k', net: network.qemu})
    const netdev = args[args.indexOf('-netdev') + 1]
    expect(netdev).to.equal(`user,id=net0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,` +
      `hostfwd=tcp:127.0.0.1:${network.docker.port}-10.0.2.15:2376,hostfwd=tcp:127.0.0.1:${network.ssh.port}-10.0.2.15:22`)
    // never on all interfaces
    expect(netdev).to.not.match(/hostfwd=tcp::|0\.0\.0\.0/)
  })

  it('two user-mode VMs started side by side get different ports', async () => {
    const [a, b] = await Promise.all([new UserNetworkDriver().setUp(), new UserNetworkDriver().setUp()])
    expect(new Set([a.docker.port, a.ssh.port, b.docker.port, b.ssh.port]).size).to.equal(4)
  })
})

describe('share transport', () => {
  const cVirtiofsd = {path: '/usr/lib/qemu/virtiofsd', version: '7.2.22', runsAsUser: false}
  const rustVirtiofsd = {path: '/usr/libexec/virtiofsd', version: '1.13.2', runsAsUser: true}
  it('a daemon running as the user takes the Rust virtiofsd; with only the C one (it would serve the guest as root), 9p', () => {
    expect(chooseShareTransport({runningAsRoot: false, virtiofsds: [cVirtiofsd, rustVirtiofsd]}))
      .to.deep.equal({transport: 'virtiofs', reason: 'virtiofs, served by virtiofsd as you', virtiofsd: rustVirtiofsd})
    expect(chooseShareTransport({runningAsRoot: false, virtiofsds: [cVirtiofsd]}))
      .to.deep.equal({transport: '9p', reason: '9p, served by QEMU as you (/usr/lib/qemu/virtiofsd 7.2.22 needs root)'})
    expect(chooseShareTransport({runningAsRoot: false, virtiofsds: []}).reason).to.equal('9p, served by QEMU as you (no virtiofsd found)')
  })
  it('a root daemon uses the first virtiofsd found, 9p when there is none or when forced', () => {
    expect(chooseShareTransport({runningAsRoot: true, virtiofsds: [cVirtiofsd, rustVirtiofsd]}).virtiofsd).to.equal(cVirtiofsd)
    expect(chooseShareTransport({runningAsRoot: true, virtiofsds: []}).reason).to.match(/not found/)
    expect(chooseShareTransport({runningAsRoot: true, virtiofsds: [cVirtiofsd], forced: '9p'}).transport).to.equal('9p')
    expect(chooseShareTransport({runningAsRoot: false, virtiofsds: [rustVirtiofsd], forced: '9p'}).transport).to.equal('9p')
  })
  it("virtiofsd's arguments: the C one's -o options; the Rust one as a user without its namespace sandbox, which would show every file as nobody's", () => {
    const share = {path: '/home/u', socketPath: '/h/run/vfs0.sock'}
    expect(virtiofsdArgs(cVirtiofsd, share, true)).to.deep.equal(['--socket-path=/h/run/vfs0.sock', '-o', 'source=/home/u', '-o', 'cache=auto'])
    expect(virtiofsdArgs(rustVirtiofsd, share, false)).to.deep.equal(['--socket-path=/h/run/vfs0.sock', '--shared-dir=/home/u', '--cache=auto', '--sandbox=none'])
    expect(virtiofsdArgs(rustVirtiofsd, share, true)).to.deep.equal(['--socket-path=/h/run/vfs0.sock', '--shared-dir=/home/u', '--cache=auto'])
  })
  it('tells the Rust virtiofsd from the C one by its --version', () => {
    expect(parseVirtiofsdVersion('virtiofsd 1.13.2\n')).to.deep.equal({version: '1.13.2', runsAsUser: true})
    expect(parseVirtiofsdVersion('virtiofsd version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022 Fabrice Bellard\n'))
      .to.deep.equal({version: '7.2.22', runsAsUser: false})
    expect(parseVirtiofsdVersion('bash: virtiofsd: not found')).to.equal(undefined)
    const found = findVirtiofsds((name) => (name === 'virtiofsd' ? undefined : name === '/usr/lib/qemu/virtiofsd' || name === '/usr/local/libexec/virtiofsd' ? name : undefined),
      (path) => (path.startsWith('/usr/local') ? 'virtiofsd 1.13.2\n' : 'virtiofsd version 7.2.22\n'))
    expect(found).to.deep.equal([{path: '/usr/lib/qemu/virtiofsd', version: '7.2.22', runsAsUser: false}, {path: '/usr/local/libexec/virtiofsd', version: '1.13.2', runsAsUser: true}])
  })
  it('several directories: a parent before the directories under it, a tag each, read-only ones over 9p', () => {
    const virtiofs = {transport: 'virtiofs', reason: 'virtiofs'} as const
    const shares = planShares([{path: '/home/u/src'}, {path: '/opt/data', readOnly: true}, {path: '/home/u'}], virtiofs, (i) => `/run/vfs${i}.sock`)
    expect(shares).to.deep.equal([
      {path: '/home/u', readOnly: false, tag: 'share0', transport: 'virtiofs', socketPath: '/run/vfs0.sock'},
      {path: '/home/u/src', readOnly: false, tag: 'share1', transport: 'virtiofs', socketPath: '/run/vfs1.sock'},
      {path: '/opt/data', readOnly: true, tag: 'share2', transport: '9p'},
    ])
    expect(describeShares(shares, virtiofs)).to.equal('3 directories (1 read-only): virtiofs and 9p')
    const userMode = chooseShareTransport({runningAsRoot: false, virtiofsds: []})
    expect(describeShares(planShares([{path: '/home/u'}], userMode, () => ''), userMode)).to.equal('/home/u: 9p, served by QEMU as you (no virtiofsd found)')
    expect(describeShares([], userMode)).to.equal('nothing shared')
  })
  it('file events only for read-write virtiofs shares: a 9p watcher holds an inode no later lookup reaches', () => {
    const virtiofs = {transport: 'virtiofs', reason: 'virtiofs'} as const
    const shares = planShares([{path: '/home/u'}, {path: '/opt/data', readOnly: true}], virtiofs, (i) => `/run/vfs${i}.sock`)
    expect(fileEventRoots(shares)).to.deep.equal({watched: ['/home/u'], unwatched: [{path: '/opt/data', why: 'read-only'}]})
    const userMode = chooseShareTransport({runningAsRoot: false, virtiofsds: []})
    expect(fileEventRoots(planShares([{path: '/home/u'}], userMode, () => ''))).to.deep.equal({
      watched: [], unwatched: [{path: '/home/u', why: `9p gives watchers in the VM no events; for them, ${VIRTIOFSD_AS_USER_FIX}`}],
    })
  })
})
