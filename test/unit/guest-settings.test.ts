import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {expect} from 'chai'

import {buildSettingsBundle, renderSettingsEnv, SettingsError, validateSettings, writeSettingsBundle, type GuestSettings} from '../../src/guest/settings.js'
import {createTar, readTar} from '../../src/guest/tar.js'

const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'
const KEY = '-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n'
const HOSTKEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n'

const full: GuestSettings = {
  hostname: 'local.docker',
  network: {address: '192.168.64.2', prefix: 24, gateway: '192.168.64.1', dns: ['192.168.64.1', '1.1.1.1'], hostAddress: '192.168.64.1', mac: '52:54:00:AB:CD:EF'},
  shares: [{path: '/home/alice', tag: 'share0', transport: 'virtiofs'}, {path: '/home/alice/my src', tag: 'share1', transport: '9p', readOnly: true}],
  dockerArgs: ['--debug', '--max-concurrent-downloads=6', '--label', 'team=a b'],
  daemonJson: {features: {buildkit: true}},
  tls: {ca: CERT, serverCert: CERT, serverKey: KEY},
  authorizedKeys: ['ssh-ed25519 AAAAC3Nz alice@host'],
  sshHostKeys: {ed25519: HOSTKEY},
}

describe('guest tar writer', () => {
  it('round-trips files and directories with modes', () => {
    const long = `${'d'.repeat(80)}/${'f'.repeat(60)}`
    const tar = createTar([{name: 'dir', mode: 0o700}, {name: 'dir/a.txt', data: 'hello', mode: 0o600}, {name: long, data: Buffer.alloc(1000, 7)}])
    expect(tar.length % 512).to.equal(0)
    const entries = readTar(tar)
    expect(entries.map((e) => e.name)).to.deep.equal(['dir', 'dir/a.txt', long])
    expect(entries[0].data).to.equal(undefined)
    expect(entries[0].mode).to.equal(0o700)
    expect(entries[1].data!.toString()).to.equal('hello')
    expect(entries[1].mode).to.equal(0o600)
    expect(entries[2].data!.length).to.equal(1000)
  })

  it('is readable by GNU tar', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dlite-tar-'))
    try {
      writeFileSync(path.join(dir, 'x.tar'), createTar([{name: 'tls', mode: 0o700}, {name: 'tls/key.pem', data: 'secret\n', mode: 0o600}]))
      execFileSync('tar', ['-C', dir, '-xf', path.join(dir, 'x.tar')])
      expect(readFileSync(path.join(dir, 'tls/key.pem'), 'utf8')).to.equal('secret\n')
      expect(statSync(path.join(dir, 'tls/key.pem')).mode & 0o777).to.equal(0o600)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('rejects absolute and parent-relative names', () => {
    expect(() => createTar([{name: '/etc/passwd', data: 'x'}])).to.throw(/invalid entry name/)
    expect(() => createTar([{name: 'a/../../b', data: 'x'}])).to.throw(/invalid entry name/)
  })
})

describe('guest settings bundle', () => {
  it('renders settings.env with every key the guest reads', () => {
    expect(renderSettingsEnv(full).split('\n').filter((l) => !l.startsWith('#') && l)).to.deep.equal([
      'HOSTNAME=local.docker',
      'IP=192.168.64.2/24',
      'GATEWAY=192.168.64.1',
      'DNS=192.168.64.1,1.1.1.1',
      'HOST_ADDR=192.168.64.1',
      'MAC=52:54:00:ab:cd:ef',
      'SHARE=share0 virtiofs rw /home/alice',
      'SHARE=share1 9p ro /home/alice/my src',
      'DOCKER_ARG=--debug',
      'DOCKER_ARG=--max-concurrent-downloads=6',
      'DOCKER_ARG=--label',
      'DOCKER_ARG=team=a b',
    ])
  })

  it('omits the network for DHCP and TLS when not given', () => {
    const entries = readTar(buildSettingsBundle({hostname: 'vm'}))
    expect(entries.map((e) => e.name)).to.deep.equal(['settings.env'])
    expect(entries[0].data!.toString()).to.not.include('IP=')
  })

  it('lays out TLS, ssh keys and daemon.json with private files 0600', () => {
    const entries = readTar(buildSettingsBundle(full))
    const byName = Object.fromEntries(entries.map((e) => [e.name, e]))
    expect(Object.keys(byName)).to.include.members([
      'settings.env', 'daemon.json', 'tls/ca.pem', 'tls/server-cert.pem', 'tls/server-key.pem', 'ssh/authorized_keys', 'ssh/ssh_host_ed25519_key',
    ])
    expect(byName['tls/server-key.pem'].mode).to.equal(0o600)
    expect(byName['ssh/ssh_host_ed25519_key'].mode).to.equal(0o600)
    expect(byName['ssh/authorized_keys'].data!.toString()).to.equal('ssh-ed25519 AAAAC3Nz alice@host\n')
    expect(JSON.parse(byName['daemon.json'].data!.toString())).to.deep.equal({features: {buildkit: true}})
  })

  it('rejects what the guest could not use or that would break dockerd', () => {
    const bad: Array<[Partial<GuestSettings>, RegExp]> = [
      [{hostname: '-bad-'}, /hostname/],
      [{hostname: 'a\nIP=1.2.3.4'}, /hostname/],
      [{network: {address: '300.1.1.1', prefix: 24}}, /network.address/],
      [{network: {address: '10.0.0.2', prefix: 31}}, /prefix/],
      [{network: {address: '10.0.0.2', prefix: 24, gateway: 'x'}}, /gateway/],
      [{network: {address: '10.0.0.2', prefix: 24, hostAddress: '10.0.0.1\nDNS=1.1.1.1'}}, /hostAddress/],
      [{shares: [{path: 'relative', tag: 'share0'}]}, /share path/],
      [{shares: [{path: '/a', tag: 'share0'}, {path: '/b', tag: 'share0'}]}, /used twice/],
      [{shares: [{path: '/a', tag: 'bad tag'}]}, /share tag/],
      [{dockerArgs: ['--label', 'a\nDNS=1.1.1.1']}, /control character/],
      [{dockerArgs: ['']}, /empty/],
      [{dockerArgs: ['-H', 'tcp://0.0.0.0:2375']}, /plain TCP without TLS/],
      [{dockerArgs: ['--tlsverify=false']}, /client-certificate checks/],
      [{daemonJson: {hosts: ['tcp://0.0.0.0:2375']}}, /hosts/],
      [{daemonJson: {tlsverify: false}}, /tlsverify/],
      [{authorizedKeys: ['not a key']}, /authorizedKeys/],
    ]
    for (const [patch, re] of bad) {
      expect(() => validateSettings({...full, ...patch} as GuestSettings), JSON.stringify(patch)).to.throw(SettingsError, re)
    }
    expect(() => buildSettingsBundle({...full, tls: {ca: 'nope', serverCert: CERT, serverKey: KEY}})).to.throw(SettingsError, /tls.ca/)
  })

  it('writes the bundle atomically with mode 0600', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dlite-settings-'))
    try {
      const file = path.join(dir, 'settings.tar')
      await writeSettingsBundle(file, full)
      expect(statSync(file).mode & 0o777).to.equal(0o600)
      expect(readTar(readFileSync(file)).length).to.be.greaterThan(5)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
