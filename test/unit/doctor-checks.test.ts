import {expect} from 'chai'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {diagnose, MIN_FREE_BYTES, type HostFacts} from '../../src/doctor/checks.js'
import {FactsFileError, parseFacts, readFactsFile} from '../../src/doctor/facts-file.js'
import {homebrewPrefix, socketVmnetPaths} from '../../src/doctor/macos.js'

const GiB = 1024 ** 3

function healthyHost(): HostFacts {
  return {
    platform: 'linux',
    network: 'bridged',
    qemu: {binaryName: 'qemu-system-x86_64', path: '/usr/bin/qemu-system-x86_64', version: {major: 7, minor: 2, patch: 19, text: '7.2.19'}},
    accelerator: {accelerator: 'kvm', reason: 'KVM API 12 via kvm_intel'},
    virtiofsds: [{path: '/usr/lib/qemu/virtiofsd', version: '7.2.22', runsAsUser: false}],
    root: true,
    tunDevice: true,
    netAdmin: true,
    nft: '/usr/sbin/nft',
    ip: '/usr/sbin/ip',
    ssh: '/usr/bin/ssh',
    docker: '/usr/bin/docker',
    home: '/root/.dlite',
    freeBytes: 50 * GiB,
  }
}

const byId = (facts: HostFacts, id: string) => diagnose(facts).checks.find((c) => c.id === id)!

describe('doctor checks', () => {
  it('a healthy host is ok everywhere and names kvm', () => {
    const report = diagnose(healthyHost())
    expect(report.ok).to.equal(true)
    expect(report.accelerator).to.equal('kvm')
    expect(report.checks.every((c) => c.status === 'ok')).to.equal(true)
    expect(report.checks.every((c) => c.fix === undefined)).to.equal(true)
  })

  it('missing QEMU fails and names the package', () => {
    const facts = healthyHost()
    facts.qemu = {binaryName: 'qemu-system-x86_64'}
    const report = diagnose(facts)
    expect(report.ok).to.equal(false)
    expect(byId(facts, 'qemu')).to.include({status: 'fail'})
    expect(byId(facts, 'qemu').fix).to.match(/apt-get install qemu-system-x86/)
  })

  it('QEMU older than 7.2 fails, 7.2 and 8.0 pass', () => {
    const facts = healthyHost()
    facts.qemu.version = {major: 7, minor: 1, patch: 0, text: '7.1.0'}
    expect(byId(facts, 'qemu').status).to.equal('fail')
    facts.qemu.version = {major: 8, minor: 0, patch: 0, text: '8.0.0'}
    expect(byId(facts, 'qemu').status).to.equal('ok')
  })

  it('tcg is a warning with the reason, not a failure', () => {
    const facts = healthyHost()
    facts.accelerator = {accelerator: 'tcg', reason: 'KVM is present but not usable for stock guests'}
    const check = byId(facts, 'accelerator')
    expect(check.status).to.equal('warn')
    expect(check.detail).to.contain('not usable for stock guests')
    expect(diagnose(facts).ok).to.equal(true)
  })

  it('an unloadable addon fails the accelerator check and names the rebuild', () => {
    const facts = healthyHost()
    facts.accelerator = {accelerator: 'tcg', reason: '', addonError: 'Cannot find module dlite_native.node'}
    expect(byId(facts, 'accelerator')).to.include({status: 'fail'})
    expect(byId(facts, 'accelerator').fix).to.contain('npm rebuild dlite-native')
  })

  it('no tun device or no CAP_NET_ADMIN fails the network check', () => {
    const noTun = {...healthyHost(), tunDevice: false}
    expect(byId(noTun, 'network').status).to.equal('fail')
    const noCap = {...healthyHost(), netAdmin: false}
    expect(byId(noCap, 'network').fix).to.match(/sudo dlite network setup/)
  })

  it('a user\'s bridged home: the root helper makes the tap and bridge; unregistered or silent, it says how to start it', () => {
    const socket = '/run/dlite/helper/abc123.sock'
    const asUser = (rootHelper: {registered: boolean; answers: boolean}) => byId({...healthyHost(), netAdmin: false, rootHelper: {...rootHelper, socket}}, 'network')
    expect(asUser({registered: true, answers: true})).to.include({status: 'ok'})
    expect(asUser({registered: true, answers: true}).detail).to.contain(socket)
    expect(asUser({registered: false, answers: false})).to.include({status: 'fail', fix: 'run `sudo dlite network setup` once'})
    expect(asUser({registered: true, answers: false})).to.include({status: 'fail'})
    expect(asUser({registered: true, answers: false}).detail).to.contain('does not answer')
  })

  it('either nft or iptables satisfies NAT; neither fails', () => {
    expect(byId({...healthyHost(), nft: undefined, iptables: '/usr/sbin/iptables'}, 'firewall').status).to.equal('ok')
    expect(byId({...healthyHost(), nft: undefined, iptables: undefined}, 'firewall').status).to.equal('fail')
  })

  it('free space: fail below the minimum, warn when tight', () => {
    expect(byId({...healthyHost(), freeBytes: MIN_FREE_BYTES - 1}, 'space').status).to.equal('fail')
    expect(byId({...healthyHost(), freeBytes: 5 * GiB}, 'space').status).to.equal('warn')
  })

  it('optional items only warn and never make the report fail', () => {
    const facts = {...healthyHost(), docker: undefined, virtiofsds: []}
    const report = diagnose(facts)
    expect(report.ok).to.equal(true)
    expect(byId(facts, 'docker').status).to.equal('warn')
    expect(byId(facts, 'virtiofsd').status).to.equal('warn')
  })

  it('missing ssh or ip fails', () => {
    expect(diagnose({...healthyHost(), ssh: undefined}).ok).to.equal(false)
    expect(diagnose({...healthyHost(), ip: undefined}).ok).to.equal(false)
  })

  it('a running VM whose docker does not answer fails its check without failing the host report', () => {
    expect(byId(healthyHost(), 'vm')).to.include({status: 'ok', detail: 'the VM is not running'})
    const answering = {...healthyHost(), runningVm: {dockerSocket: '/run/d.sock', dockerVersion: '26.1.5'}}
    expect(byId(answering, 'vm').detail).to.equal('docker 26.1.5 answers at /run/d.sock')
    const silent = {...healthyHost(), runningVm: {dockerSocket: '/run/d.sock', error: 'connect ECONNREFUSED'}}
    expect(byId(silent, 'vm')).to.include({status: 'fail', required: false})
    expect(byId(silent, 'vm').detail).to.contain('ECONNREFUSED')
    expect(byId(silent, 'vm').fix).to.contain('dlite logs')
    expect(diagnose(silent).ok).to.equal(true)
  })

  it('a user-mode home needs no tap, bridge, NAT or root: a plain user without CAP_NET_ADMIN is ok', () => {
    const facts = {...healthyHost(), root: false, network: 'user' as const, netAdmin: false, tunDevice: false, nft: undefined, ip: undefined}
    const report = diagnose(facts)
    expect(report.ok).to.equal(true)
    for (const id of ['network', 'firewall', 'ip']) {
      expect(byId(facts, id).status, id).to.equal('ok')
      expect(byId(facts, id).detail, id).to.contain('user-mode')
    }
    // only the C virtiofsd, which needs root: shares over 9p, so no file events, and the fix names the Rust one
    expect(byId(facts, 'virtiofsd')).to.include({status: 'warn', required: false})
    expect(byId(facts, 'virtiofsd').detail).to.contain('9p').and.contain('needs root').and.contain('inotify')
    expect(byId(facts, 'virtiofsd').fix).to.contain('Rust virtiofsd')
    const withRust = {...facts, virtiofsds: [...facts.virtiofsds, {path: '/usr/libexec/virtiofsd', version: '1.13.2', runsAsUser: true}]}
    expect(byId(withRust, 'virtiofsd')).to.include({status: 'ok', detail: '/usr/libexec/virtiofsd 1.13.2, serves your shares as you'})
    // the same host judged for a bridged home fails, naming root
    const bridged = diagnose({...facts, network: 'bridged'})
    expect(bridged.ok).to.equal(false)
    expect(bridged.checks.find((c) => c.id === 'network')!.fix).to.contain('sudo')
  })
})

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'doctor')

/** An Apple silicon Mac, as its doctor --json recorded it: bridged, socket_vmnet running, hvf usable. */
function appleSilicon(): HostFacts {
  return JSON.parse(readFileSync(join(FIXTURES, 'macos-apple-silicon.json'), 'utf8')) as HostFacts
}

const HVF_ZERO = 'kern.hv_support = 0: the CPU or the virtual machine this macOS runs in does not offer hardware virtualization'

describe('doctor checks on macOS', () => {
  it('a healthy Apple silicon Mac is ok everywhere and names hvf', () => {
    const report = diagnose(appleSilicon())
    expect(report.ok).to.equal(true)
    expect(report.accelerator).to.equal('hvf')
    expect(report.checks.filter((c) => c.status !== 'ok').map((c) => c.id)).to.deep.equal([])
    expect(byId(appleSilicon(), 'accelerator').detail).to.equal('hvf: Hypervisor.framework is supported (kern.hv_support = 1).')
    expect(byId(appleSilicon(), 'qemu').detail).to.equal('/opt/homebrew/bin/qemu-system-aarch64 10.1.2')
  })

  it('missing QEMU fails and names brew install qemu and where Homebrew puts it, not apt', () => {
    const facts = {...appleSilicon(), qemu: {binaryName: 'qemu-system-aarch64'}}
    expect(diagnose(facts).ok).to.equal(false)
    const check = byId(facts, 'qemu')
    expect(check).to.include({status: 'fail', detail: 'qemu-system-aarch64 not found on PATH'})
    expect(check.fix).to.contain('brew install qemu').and.contain('/opt/homebrew/bin').and.not.contain('apt')
    // an Intel Mac's Homebrew lives under /usr/local
    const intel = {...facts, arch: 'x64', qemu: {binaryName: 'qemu-system-x86_64'}, homebrewPrefix: undefined}
    expect(byId(intel, 'qemu').fix).to.contain('brew install qemu').and.contain('/usr/local/bin')
  })

  it('a QEMU that prints no version is reinstalled with brew', () => {
    const facts = appleSilicon()
    facts.qemu = {...facts.qemu, version: undefined, versionError: 'dyld: Library not loaded: libglib-2.0.0.dylib'}
    expect(byId(facts, 'qemu')).to.include({status: 'fail', fix: 'reinstall QEMU: brew reinstall qemu'})
    expect(byId(facts, 'qemu').detail).to.contain('libglib')
  })

  it('hvf on Apple silicon needs QEMU 8.2.1: 8.2.0 fails with brew upgrade qemu, 8.2.1 passes', () => {
    const facts = appleSilicon()
    facts.qemu.version = {major: 8, minor: 2, patch: 0, text: '8.2.0'}
    const old = byId(facts, 'qemu')
    expect(old.status).to.equal('fail')
    expect(old.detail).to.contain('8.2.0').and.contain('>= 8.2.1 for hvf on Apple silicon')
    expect(old.fix).to.equal('upgrade QEMU to 8.2.1 or newer: brew upgrade qemu')
    facts.qemu.version = {major: 7, minor: 2, patch: 19, text: '7.2.19'}
    expect(byId(facts, 'qemu').status).to.equal('fail')
    facts.qemu.version = {major: 8, minor: 2, patch: 1, text: '8.2.1'}
    expect(byId(facts, 'qemu').status).to.equal('ok')
    // a Mac that cannot use hvf (a macOS VM) runs tcg, which 7.2 serves
    const tcg = {...facts, qemu: {...facts.qemu, version: {major: 8, minor: 2, patch: 0, text: '8.2.0'}}, accelerator: {accelerator: 'tcg' as const, reason: HVF_ZERO}}
    expect(byId(tcg, 'qemu').status).to.equal('ok')
  })

  it('an Intel Mac keeps dlite\'s 7.2 floor, and upgrades with brew', () => {
    const facts = {...appleSilicon(), homebrewPrefix: '/usr/local'}
    facts.qemu = {binaryName: 'qemu-system-x86_64', path: '/usr/local/bin/qemu-system-x86_64', version: {major: 7, minor: 1, patch: 0, text: '7.1.0'}}
    expect(byId(facts, 'qemu')).to.include({status: 'fail', fix: 'upgrade QEMU to 7.2 or newer: brew upgrade qemu'})
    facts.qemu.version = {major: 7, minor: 2, patch: 0, text: '7.2.0'}
    expect(byId(facts, 'qemu').status).to.equal('ok')
  })

  it('Linux keeps apt, and its aarch64 package is qemu-system-arm', () => {
    expect(byId({...healthyHost(), qemu: {binaryName: 'qemu-system-x86_64'}}, 'qemu').fix).to.equal('install QEMU: sudo apt-get install qemu-system-x86 (Debian/Ubuntu)')
    expect(byId({...healthyHost(), qemu: {binaryName: 'qemu-system-aarch64'}}, 'qemu').fix).to.contain('apt-get install qemu-system-arm')
    // Linux on arm64 is not held to the Mac's hvf floor
    const arm = {...healthyHost(), qemu: {binaryName: 'qemu-system-aarch64', path: '/usr/bin/qemu-system-aarch64', version: {major: 7, minor: 2, patch: 19, text: '7.2.19'}}}
    expect(byId(arm, 'qemu').status).to.equal('ok')
    const old = {...healthyHost(), qemu: {...healthyHost().qemu, version: {major: 7, minor: 1, patch: 0, text: '7.1.0'}}}
    expect(byId(old, 'qemu').fix).to.equal('upgrade QEMU to 7.2 or newer')
  })

  it('kern.hv_support = 0 is a tcg warning: on Apple silicon run on the Mac itself, on Intel get VT-x', () => {
    const facts = appleSilicon()
    facts.accelerator = {accelerator: 'tcg', reason: `${HVF_ZERO}.`, hardware: {name: 'hvf', present: true, usable: false, reason: HVF_ZERO}}
    const check = byId(facts, 'accelerator')
    expect(check.status).to.equal('warn')
    expect(check.detail).to.contain('tcg').and.contain('kern.hv_support = 0')
    expect(check.fix).to.contain('on the Mac itself').and.contain('cannot get nested virtualization').and.contain('tcg')
    expect(check.fix).to.not.contain('KVM')
    expect(diagnose(facts).ok).to.equal(true)
    // an Intel Mac: no VT-x, or a hypervisor that does not pass it through, which can be turned on
    const intel = {...facts, arch: 'x64', qemu: {binaryName: 'qemu-system-x86_64', path: '/usr/local/bin/qemu-system-x86_64', version: {major: 10, minor: 1, patch: 2, text: '10.1.2'}}}
    expect(byId(intel, 'accelerator').fix).to.contain('VT-x').and.contain('turn on nested virtualization')
  })

  it('no kern.hv_support at all says to update macOS; hvf not probed at all names the sysctl', () => {
    const facts = appleSilicon()
    const reason = 'kern.hv_support is not available: this macOS has no Hypervisor.framework'
    facts.accelerator = {accelerator: 'tcg', reason, hardware: {name: 'hvf', present: false, usable: false, reason}}
    expect(byId(facts, 'accelerator')).to.include({status: 'warn'})
    expect(byId(facts, 'accelerator').fix).to.contain('update macOS')
    facts.accelerator = {accelerator: 'tcg', reason: 'the hypervisor was not probed', hardware: null}
    expect(byId(facts, 'accelerator').fix).to.contain('sysctl kern.hv_support')
  })

  it('socket_vmnet: not installed fails naming brew install and the root start', () => {
    const facts = appleSilicon()
    facts.socketVmnet = {...facts.socketVmnet!, binaryExists: false, socketExists: false}
    const check = byId(facts, 'socket_vmnet')
    expect(check).to.include({status: 'fail', required: true})
    expect(check.detail).to.contain('/opt/homebrew/opt/socket_vmnet/bin/socket_vmnet not found')
    expect(check.fix).to.equal('brew install socket_vmnet, then start it as root once: sudo /opt/homebrew/bin/brew services start socket_vmnet')
    expect(diagnose(facts).ok).to.equal(false)
  })

  it('socket_vmnet: installed but no socket fails naming the start command', () => {
    const facts = appleSilicon()
    facts.socketVmnet = {...facts.socketVmnet!, socketExists: false}
    const check = byId(facts, 'socket_vmnet')
    expect(check).to.include({status: 'fail'})
    expect(check.detail).to.contain('not running').and.contain('/opt/homebrew/var/run/socket_vmnet')
    expect(check.fix).to.contain('sudo /opt/homebrew/bin/brew services start socket_vmnet').and.not.contain('brew install')
  })

  it('socket_vmnet: installed and listening is ok; facts without it warn', () => {
    expect(byId(appleSilicon(), 'socket_vmnet')).to.include({
      status: 'ok', detail: '/opt/homebrew/opt/socket_vmnet/bin/socket_vmnet, socket /opt/homebrew/var/run/socket_vmnet',
    })
    const unprobed = {...appleSilicon(), socketVmnet: undefined}
    expect(byId(unprobed, 'socket_vmnet')).to.include({status: 'warn'})
    expect(diagnose(unprobed).ok).to.equal(true)
  })

  it('socket_vmnet is not needed for user-mode networking, nor on Linux', () => {
    const user = {...appleSilicon(), network: 'user' as const, socketVmnet: {...appleSilicon().socketVmnet!, binaryExists: false, socketExists: false}}
    expect(byId(user, 'socket_vmnet')).to.include({status: 'ok', required: false})
    expect(byId(user, 'socket_vmnet').detail).to.contain('user-mode')
    expect(diagnose(user).ok).to.equal(true)
    expect(byId(healthyHost(), 'socket_vmnet')).to.include({status: 'ok', required: false, detail: 'not needed on Linux (a bridged VM gets a tap)'})
  })

  it('a bridged Mac needs no tap, bridge, NAT tools or ip: the network check defers to socket_vmnet', () => {
    const facts = appleSilicon()
    for (const id of ['network', 'firewall', 'ip']) {
      expect(byId(facts, id), id).to.include({status: 'ok', required: false})
      expect(byId(facts, id).detail, id).to.contain('not needed on macOS')
    }
    expect(byId(facts, 'network').detail).to.contain('socket_vmnet')
  })

  it('missing ssh or docker on a Mac names brew, not apt', () => {
    const facts = {...appleSilicon(), ssh: undefined, docker: undefined}
    expect(byId(facts, 'ssh')).to.include({status: 'fail'})
    expect(byId(facts, 'ssh').fix).to.contain('brew install openssh').and.contain('/usr/bin/ssh').and.not.contain('apt')
    expect(byId(facts, 'docker')).to.include({status: 'warn', fix: 'install the docker CLI: brew install docker'})
    // and Linux keeps apt
    expect(byId({...healthyHost(), ssh: undefined}, 'ssh').fix).to.equal('sudo apt-get install openssh-client')
    expect(byId({...healthyHost(), docker: undefined}, 'docker').fix).to.contain('apt-get install docker.io').and.not.contain('brew')
  })

  it('Homebrew\'s prefix: HOMEBREW_PREFIX wins, else /opt/homebrew on arm64 and /usr/local on Intel', () => {
    expect(homebrewPrefix('arm64', {})).to.equal('/opt/homebrew')
    expect(homebrewPrefix('x64', {})).to.equal('/usr/local')
    expect(homebrewPrefix('arm64', {HOMEBREW_PREFIX: '/Users/me/brew/'})).to.equal('/Users/me/brew')
    expect(homebrewPrefix('arm64', {HOMEBREW_PREFIX: 'relative'})).to.equal('/opt/homebrew')
    expect(socketVmnetPaths('/usr/local')).to.deep.equal({
      binary: '/usr/local/opt/socket_vmnet/bin/socket_vmnet', socket: '/usr/local/var/run/socket_vmnet',
    })
  })

  it('the report carries the facts it judged, so they can be saved and judged again', () => {
    const report = diagnose(appleSilicon())
    expect(report.facts).to.deep.equal(appleSilicon())
    const again = diagnose(parseFacts(JSON.parse(JSON.stringify(report))))
    expect(again.checks).to.deep.equal(report.checks)
  })
})

describe('doctor facts files', () => {
  let dir: string
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'dlite-facts-')) })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  const write = (name: string, text: string) => {
    const path = join(dir, name)
    writeFileSync(path, text)
    return path
  }

  it('reads both fixtures and a Linux host\'s facts as they are', () => {
    expect(readFactsFile(join(FIXTURES, 'macos-apple-silicon.json'))).to.deep.equal(appleSilicon())
    expect(readFactsFile(join(FIXTURES, 'macos-no-socket-vmnet.json')).platform).to.equal('darwin')
    const vm = readFactsFile(join(FIXTURES, 'macos-vm-no-hvf.json'))
    expect(diagnose(vm)).to.include({ok: true, accelerator: 'tcg'})
    expect(byId(vm, 'accelerator').fix).to.contain('nested virtualization')
    expect(parseFacts(JSON.parse(JSON.stringify(healthyHost())))).to.deep.equal(healthyHost())
  })

  it('a missing file, or one that is not JSON, is a usage error saying which', () => {
    const missing = (() => { try { readFactsFile(join(dir, 'nope.json')) } catch (e) { return e } })()
    expect(missing).to.be.instanceOf(FactsFileError).and.include({exit: 2})
    expect((missing as Error).message).to.contain('nope.json').and.contain('no such file')
    const path = write('bad.json', '{"platform": "darwin",')
    expect(() => readFactsFile(path)).to.throw(FactsFileError, /bad\.json is not JSON/)
  })

  it('names every missing or mistyped field', () => {
    const facts = JSON.parse(JSON.stringify(appleSilicon()))
    delete facts.qemu.binaryName
    delete facts.home
    facts.network = 'vmnet'
    facts.accelerator.hardware.usable = 'yes'
    facts.socketVmnet.socketExists = 1
    facts.virtiofsds = [{path: '/usr/libexec/virtiofsd'}]
    let error: FactsFileError | undefined
    try {
      readFactsFile(write('facts.json', JSON.stringify(facts)))
    } catch (e) {
      error = e as FactsFileError
    }
    expect(error).to.be.instanceOf(FactsFileError)
    expect(error!.exit).to.equal(2)
    expect(error!.fix).to.contain('dlite doctor --json')
    for (const problem of [
      'network: must be "user" or "bridged" (got "vmnet")', 'qemu.binaryName: missing', 'home: missing',
      'accelerator.hardware.usable: must be true or false', 'socketVmnet.socketExists: must be true or false',
      'virtiofsds[0].version: missing', 'virtiofsds[0].runsAsUser: missing',
    ]) expect(error!.message).to.contain(problem)
  })

  it('something that is not an object, or a platform dlite does not run on, is refused', () => {
    expect(() => parseFacts([1, 2])).to.throw(FactsFileError, /must hold a JSON object/)
    expect(() => parseFacts({...healthyHost(), platform: 'win32'})).to.throw(FactsFileError, /platform: must be "linux" or "darwin"/)
  })
})
