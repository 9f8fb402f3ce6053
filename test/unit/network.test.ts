import {expect} from 'chai'

import {networkNames} from '../../src/network/names.js'
import {chooseNatBackend, enableIpForwarding, iptablesRules, nftRuleset, restoreIpForwarding} from '../../src/network/nat.js'
import {dliteBridges} from '../../src/network/bridge.js'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseSubnet} from '../../src/network/subnet.js'
import type {ExecResult, Runner} from 'dlite-kit/exec'
import {applyNat, removeNat} from '../../src/network/nat.js'
import {ensureBridge} from '../../src/network/bridge.js'

describe('subnet', () => {
  it('derives host and VM addresses', () => {
    expect(parseSubnet('192.168.64.0/24')).to.deep.equal({
      network: '192.168.64.0', prefix: 24, cidr: '192.168.64.0/24', hostIp: '192.168.64.1', vmIp: '192.168.64.2', netmask: '255.255.255.0',
    })
    expect(parseSubnet('10.20.0.0/16').netmask).to.equal('255.255.0.0')
    expect(parseSubnet('172.16.5.8/29').vmIp).to.equal('172.16.5.10')
  })

  it('rejects what is not a CIDR', () => {
    expect(() => parseSubnet('192.168.64.0')).to.throw(/not an IPv4 CIDR/)
    expect(() => parseSubnet('300.1.1.0/24')).to.throw(/not an IPv4 CIDR/)
    expect(() => parseSubnet('10.0.0.0/33')).to.throw(/not an IPv4 CIDR/)
  })
})

describe('network names', () => {
  it('keeps dlite0 for root\'s own default home and unique short names for others, every user\'s default home too', () => {
    expect(networkNames('/root/.dlite', '/root/.dlite', true).bridge).to.equal('dlite0')
    // two users' ~/.dlite must never share a bridge: the helper would let one take the other's down
    const ann = networkNames('/home/ann/.dlite', '/home/ann/.dlite', false)
    const bob = networkNames('/home/bob/.dlite', '/home/bob/.dlite', false)
    expect(ann.bridge).to.match(/^dlbr-[0-9a-f]{6}$/).and.not.equal(bob.bridge)
    const a = networkNames('/tmp/a', '/root/.dlite')
    const b = networkNames('/tmp/b', '/root/.dlite')
    expect(a.bridge).to.not.equal(b.bridge)
    for (const name of [a.bridge, a.tap, b.bridge, b.tap, 'dlite0-tap']) expect(name.length).to.be.at.most(15)
  })
})

const spec = {table: 'dlite_abc123', bridge: 'dlbr-abc123', subnet: parseSubnet('192.168.64.0/24')}

function recordingRunner(answers: (cmd: string, args: string[]) => number = () => 0) {
  const calls: string[] = []
  const runner: Runner = async (cmd, args, opts) => {
    calls.push([cmd, ...args].join(' ') + (opts?.input ? ` <<${String(opts.input).length}` : ''))
    return {code: answers(cmd, args), stdout: '', stderr: ''} satisfies ExecResult
  }
  return {calls, runner}
}

describe('NAT', () => {
  it('nft: one table per home, masquerading only traffic leaving the subnet', () => {
    const text = nftRuleset(spec)
    expect(text).to.contain('table ip dlite_abc123 {')
    expect(text).to.contain('ip saddr 192.168.64.0/24 ip daddr != 192.168.64.0/24 masquerade')
    expect(text).to.contain('iifname "dlbr-abc123" accept')
    // replies to the VM pass; any other packet forwarded to the bridge is dropped, after them
    const forward = text.slice(text.indexOf('chain forward'))
    expect(forward.indexOf('oifname "dlbr-abc123" ct state established,related accept')).to.be.greaterThan(0)
    expect(forward.indexOf('oifname "dlbr-abc123" drop')).to.be.greaterThan(forward.indexOf('ct state established,related accept'))
  })

  it('iptables: inserted at the top one by one, FORWARD ends up accept-from-bridge, accept-replies, drop-the-rest', () => {
    const chain: string[] = []
    for (const {chain: name, rule} of iptablesRules(spec)) if (name === 'FORWARD') chain.unshift(rule.slice(0, rule.indexOf('-m', rule.indexOf('-j'))).join(' '))
    expect(chain).to.deep.equal(['-i dlbr-abc123 -j ACCEPT', '-o dlbr-abc123 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT', '-o dlbr-abc123 -j DROP'])
  })

  it('iptables rules carry the home comment', () => {
    for (const {rule} of iptablesRules(spec)) expect(rule.join(' ')).to.contain('--comment dlite_abc123')
  })

  it('prefers nft, falls back to iptables, errors with the fix', () => {
    expect(chooseNatBackend((n) => (n === 'nft' ? '/usr/sbin/nft' : undefined))).to.equal('nft')
    expect(chooseNatBackend((n) => (n === 'iptables' ? '/usr/sbin/iptables' : undefined))).to.equal('iptables')
    expect(() => chooseNatBackend(() => undefined)).to.throw(/apt-get install nftables/)
  })

  it('apply replaces an existing table; remove is idempotent', async () => {
    const present = recordingRunner((_cmd, args) => (args[0] === 'list' ? 0 : 0))
    await applyNat(spec, 'nft', present.runner)
    expect(present.calls).to.deep.equal([
      'nft list table ip dlite_abc123', 'nft delete table ip dlite_abc123', `nft -f - <<${nftRuleset(spec).length}`,
    ])
    const absent = recordingRunner((_cmd, args) => (args[0] === 'list' ? 1 : 0))
    await removeNat(spec, 'nft', absent.runner)
    expect(absent.calls).to.deep.equal(['nft list table ip dlite_abc123'])
  })

  it('iptables removal loops until no copy is left', async () => {
    let copies = 2
    const {calls, runner} = recordingRunner((_cmd, args) => (args.includes('-D') && args.includes('MASQUERADE') && copies-- > 0 ? 0 : 1))
    await removeNat(spec, 'iptables', runner)
    expect(calls.filter((c) => c.includes('MASQUERADE'))).to.have.length(3)
  })
})

describe('bridge', () => {
  it('creates a missing bridge, sets the host address, brings it up', async () => {
    const {calls, runner} = recordingRunner((_cmd, args) => (args[0] === 'link' && args[1] === 'show' ? 1 : 0))
    await ensureBridge('dlbr-x', parseSubnet('192.168.64.0/24'), runner)
    expect(calls).to.deep.equal([
      'ip link show dev dlbr-x',
      'ip link add name dlbr-x type bridge',
      'ip -o -4 addr show dev dlbr-x',
      'ip addr replace 192.168.64.1/24 dev dlbr-x',
      'ip link set dev dlbr-x up',
    ])
  })

  it('reports the failing ip command', async () => {
    const {runner} = recordingRunner(() => 2)
    let message = ''
    try {
      await ensureBridge('dlbr-x', parseSubnet('192.168.64.0/24'), runner)
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).to.match(/^ip link add name dlbr-x type bridge failed \(exit 2\)/)
  })
})

describe('IP forwarding (one switch per network namespace)', () => {
  let dir: string
  let paths: {sysctl: string; record: string}
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-fwd-'))
    paths = {sysctl: join(dir, 'ip_forward'), record: join(dir, 'run', 'ip_forward.before.1')}
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('found off: on while dlite\'s bridges are up, back off when the last one goes', async () => {
    writeFileSync(paths.sysctl, '0\n')
    await enableIpForwarding(paths)
    await enableIpForwarding(paths) // a second VM: the record keeps what was found first
    expect(readFileSync(paths.sysctl, 'utf8')).to.equal('1\n')
    expect(readFileSync(paths.record, 'utf8')).to.equal('0\n')
    expect(await restoreIpForwarding(true, paths)).to.equal(false) // another bridge still up
    expect(readFileSync(paths.sysctl, 'utf8')).to.equal('1\n')
    expect(await restoreIpForwarding(false, paths)).to.equal(true)
    expect(readFileSync(paths.sysctl, 'utf8')).to.equal('0\n')
    expect(existsSync(paths.record)).to.equal(false)
  })

  it('found on: stays on after dlite goes (it was someone else\'s choice)', async () => {
    writeFileSync(paths.sysctl, '1\n')
    await enableIpForwarding(paths)
    expect(existsSync(paths.record)).to.equal(false)
    expect(await restoreIpForwarding(false, paths)).to.equal(false)
    expect(readFileSync(paths.sysctl, 'utf8')).to.equal('1\n')
  })

  it('finds dlite\'s bridges among the host\'s', async () => {
    const runner: Runner = async () => ({code: 0, stderr: '', stdout: [
      '3: docker0: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN mode DEFAULT group default',
      '7: dlite0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default',
      '9: dlbr-3f2a1c: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default',
    ].join('\n')})
    expect(await dliteBridges(runner)).to.deep.equal(['dlite0', 'dlbr-3f2a1c'])
  })
})
