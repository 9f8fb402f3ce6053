// `dlite config set`: KEY=VALUE checked as install checks its flags, every problem at once, nothing half-applied.
import {expect} from 'chai'

import type {InstallHostFacts} from '../../src/install/validate.js'
import {needsRestart, planConfigChange, settingValues} from '../../src/lifecycle/config-change.js'
import {sampleConfig} from '../helpers/config-fixture.js'

const GiB = 1024 ** 3
const facts = {
  platform: 'linux', cpuCores: 4, memoryBytes: 16 * GiB, homeDir: '/home/user', cwd: '/home/user', routes: [],
  fs: {kind: (p: string) => (p.startsWith('/home/user') ? 'directory' : 'missing'), readable: () => true, writable: () => true, readHead: () => undefined},
} as unknown as InstallHostFacts

describe('config set', () => {
  // macOS is not this machine: its facts are invented. `config set` (and `dlite edit`) check network with
  // install's checkNetwork, so the refusal is the same; the command turns it into a usage error (exit 2), nothing written.
  it('on macOS without socket_vmnet refuses network=bridged, naming brew install and the default user network', () => {
    const noVmnet = {binary: '/opt/homebrew/opt/socket_vmnet/bin/socket_vmnet', binaryExists: false, socket: '/opt/homebrew/var/run/socket_vmnet', socketExists: false}
    const darwin = {...facts, platform: 'darwin', isRoot: false, homebrewPrefix: '/opt/homebrew', socketVmnet: noVmnet} as InstallHostFacts
    const current = {...sampleConfig(), network: 'user' as const}
    const plan = planConfigChange(['network=bridged'], current, darwin)
    expect(plan.ok).to.equal(false)
    if (plan.ok) return
    expect(plan.errors).to.have.length(1)
    expect(plan.errors[0].flag).to.equal('network')
    expect(plan.errors[0].message).to.match(/through socket_vmnet, and \/opt\/homebrew\/opt\/socket_vmnet\/bin\/socket_vmnet is not there/)
    expect(plan.errors[0].fix).to.contain('brew install socket_vmnet').and.contain('network=user, the default')
    expect(current.network).to.equal('user')
    const back = planConfigChange(['network=user'], {...sampleConfig(), network: 'bridged'}, darwin)
    expect(back.ok && back.change.next.network).to.equal('user')
  })

  it('on macOS with socket_vmnet takes network=bridged for a home registered on the same network', () => {
    const vmnet = {binary: '/opt/homebrew/opt/socket_vmnet/bin/socket_vmnet', binaryExists: true, socket: '/opt/homebrew/var/run/socket_vmnet', socketExists: false}
    const current = {...sampleConfig(), network: 'user' as const, subnet: '192.168.105.0/24'}
    const darwin = {...facts, platform: 'darwin', isRoot: false, socketVmnet: vmnet, helperRegistration: {subnet: '192.168.105.0/24', hostname: 'local.docker'}} as InstallHostFacts
    const plan = planConfigChange(['network=bridged'], current, darwin)
    expect(plan.ok && plan.change.next.network).to.equal('bridged')
    const elsewhere = planConfigChange(['network=bridged'], {...current, subnet: '192.168.64.0/24'}, darwin)
    expect(elsewhere.ok === false && elsewhere.errors[0].message).to.match(/registered for subnet 192\.168\.105\.0\/24/)
  })

  it('applies good values and lists what changed, from and to', () => {
    const plan = planConfigChange(['memory=4', 'disk=40', 'cpus=2', 'extra=--label team=a', 'hostname=dev.docker'], sampleConfig(), facts)
    expect(plan.ok).to.equal(true)
    if (!plan.ok) return
    expect(plan.change.next).to.include({memoryGiB: 4, diskGiB: 40, cpus: 2, hostname: 'dev.docker'})
    expect(plan.change.next.extraArgs).to.deep.equal(['--label', 'team=a'])
    expect(plan.change.changed).to.deep.equal([
      {name: 'memory', from: '2', to: '4'},
      {name: 'disk', from: '20', to: '40'},
      {name: 'hostname', from: 'local.docker', to: 'dev.docker'},
      {name: 'extra', from: '--log-level debug', to: '--label team=a'},
    ])
    expect(needsRestart(plan.change)).to.equal(true)
  })

  it('replaces the shared directories as one list, :ro read-only, none for nothing', () => {
    const plan = planConfigChange(['mounts=~/src,/home/user/data:ro'], sampleConfig(), facts)
    expect(plan.ok).to.equal(true)
    if (!plan.ok) return
    expect(plan.change.next.mounts).to.deep.equal([{path: '/home/user/src'}, {path: '/home/user/data', readOnly: true}])
    expect(plan.change.changed).to.deep.equal([{name: 'mounts', from: '/home/user', to: '/home/user/src,/home/user/data:ro'}])
    expect(needsRestart(plan.change)).to.equal(true)
    const none = planConfigChange(['mounts=none'], sampleConfig(), facts)
    expect(none.ok && none.change.next.mounts).to.deep.equal([])
    const bad = planConfigChange(['mounts=/home/user,/nowhere'], sampleConfig(), facts)
    expect(bad.ok).to.equal(false)
    if (!bad.ok) expect(bad.errors[0]).to.include({flag: 'mounts'}).and.to.have.property('message').that.matches(/\/nowhere does not exist/)
  })

  it('reports every bad value at once in the setting\'s own name, and changes nothing', () => {
    const config = sampleConfig()
    const plan = planConfigChange(['disk=10', 'cpus=99', 'frob=1', 'memory', 'memory=0', 'memory=3', 'hostname=', 'activate-context=maybe'], config, facts)
    expect(plan.ok).to.equal(false)
    if (plan.ok) return
    const byName = plan.errors.map((e) => `${e.flag}: ${e.message}`)
    expect(byName).to.deep.equal([
      "disk: the disk cannot shrink below its 20 GiB: the guest's file system fills it",
      'cpus: 99 CPUs is outside 1..4 (this host has 4 cores)',
      'frob: "frob" is not a setting dlite can change',
      'memory: memory has no value',
      'memory: 0 GiB is outside 1..15 GiB (the host keeps at least 1 GiB)',
      'memory: memory is given twice',
      'hostname: hostname is empty',
      'activate-context: "maybe" is not true or false',
    ])
    expect(plan.errors.every((e) => !e.message.includes('--') && !e.fix.includes('--memory'))).to.equal(true)
    expect(config).to.deep.equal(sampleConfig())
  })

  it('the same values again change nothing; the context setting alone needs no restart', () => {
    const same = planConfigChange(['memory=2', 'disk=20'], sampleConfig(), facts)
    expect(same.ok && same.change.changed).to.deep.equal([])
    const context = planConfigChange(['activate-context=false'], sampleConfig(), facts)
    expect(context.ok && needsRestart(context.change)).to.equal(false)
    expect(settingValues(sampleConfig())['activate-context']).to.equal('true')
  })

  it('file events turn off in the config and take effect at the next start (the daemon watches from its start)', () => {
    const off = planConfigChange(['file-events=false'], sampleConfig(), facts)
    expect(off.ok && off.change.next.fileEvents).to.equal(false)
    expect(off.ok && needsRestart(off.change)).to.equal(true)
    expect(settingValues(sampleConfig())['file-events']).to.equal('true')
    const bad = planConfigChange(['file-events=off'], sampleConfig(), facts)
    expect(!bad.ok && bad.errors[0].fix).to.equal('write file-events=true or file-events=false')
  })

  it('network=bridged as a user needs the root helper\'s registration and takes its network and name; network=user needs nothing', () => {
    const user = {...facts, isRoot: false} as InstallHostFacts
    const toUser = planConfigChange(['network=user'], {...sampleConfig(), network: 'bridged'}, user)
    expect(toUser.ok && toUser.change.next.network).to.equal('user')
    const unregistered = planConfigChange(['network=bridged'], {...sampleConfig(), network: 'user'}, user)
    expect(unregistered.ok).to.equal(false)
    if (!unregistered.ok) expect(unregistered.errors[0]).to.include({flag: 'network'}).and.have.property('fix').that.contains('sudo dlite network setup')
    const vm = {...sampleConfig(), network: 'user' as const, subnet: '192.168.100.0/24'}
    const registered = {...user, helperRegistration: {subnet: '192.168.100.0/24', hostname: 'dev.docker'}} as InstallHostFacts
    const plan = planConfigChange(['network=bridged'], vm, registered)
    expect(plan.ok).to.equal(true)
    if (!plan.ok) return
    expect(plan.change.next).to.include({network: 'bridged', subnet: '192.168.100.0/24', hostname: 'dev.docker'})
    expect(needsRestart(plan.change)).to.equal(true)
    // the hosts line is the helper's: another name would not be the one in /etc/hosts, in either order
    for (const pairs of [['network=bridged', 'hostname=other.docker'], ['hostname=other.docker', 'network=bridged']]) {
      const renamed = planConfigChange(pairs, vm, registered)
      expect(renamed.ok, pairs.join(' ')).to.equal(false)
      if (!renamed.ok) expect(renamed.errors[0].fix).to.contain('sudo dlite network setup --hostname other.docker')
    }
    // the VM's certificates name its own address: a registration for another subnet would not match them
    const elsewhere = planConfigChange(['network=bridged'], {...vm, subnet: '192.168.64.0/24'}, registered)
    expect(elsewhere.ok).to.equal(false)
    if (!elsewhere.ok) expect(elsewhere.errors[0].fix).to.contain('sudo dlite network setup --subnet 192.168.64.0/24')
  })

  it('nothing to change is an error that lists the settings', () => {
    const plan = planConfigChange([], sampleConfig(), facts)
    expect(plan.ok).to.equal(false)
    if (!plan.ok) expect(plan.errors[0].fix).to.match(/memory=4 \(keys: cpus, memory, disk, hostname, mounts, extra, activate-context, file-events, save-state, network\)/)
  })
})
