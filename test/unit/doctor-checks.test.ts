import {expect} from 'chai'

import {diagnose, MIN_FREE_BYTES, type HostFacts} from '../../src/doctor/checks.js'

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
