import {expect} from 'chai'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {
  DEFAULT_SETTINGS, SettingsError, checkServedDomain, normalizeDomain, normalizeUpstreams, parseUpstream, readSettings, validateSettings, validateTtl, writeSettings,
} from '../src/settings.js'
import {nameservers, settingsUpstreams, systemUpstreams} from '../src/upstream.js'
import * as reservedNames from '../../../src/network/reserved-names.js'

describe('dlite-dns settings', () => {
  describe('domain (RFC 1123)', () => {
    for (const [input, expected] of [['docker', 'docker'], ['Dev.Docker.', 'dev.docker'], ['a-b.c1', 'a-b.c1'], ['x', 'x'], [`${'a'.repeat(63)}.docker`, `${'a'.repeat(63)}.docker`]]) {
      it(`accepts ${input.length > 20 ? 'a 63-character label' : input}`, () => expect(normalizeDomain(input)).to.equal(expected))
    }
    for (const input of ['', '.', 'a..b', '-docker', 'docker-', 'dock_er', 'doc ker', 'dôcker', `${'a'.repeat(64)}.docker`, 'x.in-addr.arpa', '*.docker', `${'abcdefgh.'.repeat(30)}docker`]) {
      it(`refuses "${input.length > 20 ? `${input.slice(0, 20)}…` : input}" with a fix`, () => {
        expect(() => normalizeDomain(input)).to.throw(SettingsError)
        try {
          normalizeDomain(input)
        } catch (error) {
          expect((error as SettingsError).fix ?? '').to.match(/docker/)
        }
      })
    }
  })

  it('dns enable --domain refuses a domain that may be someone\'s on the internet (com, github.com), unless DLITE_ALLOW_PUBLIC_NAMES=1', () => {
    for (const ok of ['docker', 'dev.docker', 'test', 'apps.internal', 'lan.local']) expect(checkServedDomain(ok, reservedNames), ok).to.equal(ok)
    for (const bad of ['com', 'github.com', 'corp', 'localhost', 'docker.io']) {
      expect(() => checkServedDomain(bad, reservedNames), bad).to.throw(SettingsError, /may belong to someone on the internet/)
    }
    try {
      checkServedDomain('github.com', reservedNames)
    } catch (error) {
      expect((error as SettingsError).fix).to.include('DLITE_ALLOW_PUBLIC_NAMES=1')
    }
    expect(checkServedDomain('corp.example.com', {...reservedNames, publicNamesAllowed: () => true})).to.equal('corp.example.com')
  })

  it('TTL is a whole number from 0 to 2^31-1', () => {
    expect(validateTtl(0)).to.equal(0)
    expect(validateTtl(2_147_483_647)).to.equal(2_147_483_647)
    for (const bad of [-1, 1.5, 2_147_483_648, Number.NaN]) expect(() => validateTtl(bad)).to.throw(SettingsError)
  })

  describe('upstreams', () => {
    it('parses addresses with and without ports', () => {
      expect(parseUpstream('1.1.1.1')).to.deep.equal({host: '1.1.1.1', port: 53})
      expect(parseUpstream('1.1.1.1:5353')).to.deep.equal({host: '1.1.1.1', port: 5353})
      expect(parseUpstream('2606:4700::1111')).to.deep.equal({host: '2606:4700::1111', port: 53})
      expect(parseUpstream('[::1]:1053')).to.deep.equal({host: '::1', port: 1053})
      for (const bad of ['dns.example', '1.1.1.1:0', '1.1.1.1:70000', '[::1', '300.1.1.1']) expect(() => parseUpstream(bad)).to.throw(SettingsError)
    })

    it('normalizes --upstream values: system, none, lists and commas', () => {
      expect(normalizeUpstreams(['system'])).to.deep.equal(['system'])
      expect(normalizeUpstreams(['none'])).to.deep.equal([])
      expect(normalizeUpstreams(['1.1.1.1,9.9.9.9:53', '1.1.1.1'])).to.deep.equal(['1.1.1.1:53', '9.9.9.9:53'])
      expect(normalizeUpstreams(['system', '::1'])).to.deep.equal(['system', '[::1]:53'])
      expect(() => normalizeUpstreams(['none', '1.1.1.1'])).to.throw(SettingsError)
    })

    it('system upstreams: the first resolv.conf with servers, without ourselves or resolved\'s stub', () => {
      const files: Record<string, string> = {
        '/run/systemd/resolve/resolv.conf': '# no servers yet\n',
        '/etc/resolv.conf': 'nameserver 127.0.0.53\nnameserver 192.168.64.1\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\noptions edns0\n',
      }
      const read = (path: string) => {
        if (!(path in files)) throw new Error('ENOENT')
        return files[path]
      }
      const servers = systemUpstreams(['/missing', '/run/systemd/resolve/resolv.conf', '/etc/resolv.conf'], [{host: '192.168.64.1', port: 53}], read)
      expect(servers).to.deep.equal([{host: '10.0.0.1', port: 53}, {host: 'fe80::1', port: 53}])
      expect(systemUpstreams(['/missing'], [], read)).to.deep.equal([])
      expect(nameservers('nameserver 8.8.8.8 # comment\n  nameserver   1.1.1.1\n#nameserver 9.9.9.9\n')).to.deep.equal([{host: '8.8.8.8', port: 53}, {host: '1.1.1.1', port: 53}])
    })

    it('settings upstreams expand `system` where it stands', () => {
      expect(settingsUpstreams(['1.1.1.1:53', 'system'], () => [{host: '10.0.0.1', port: 53}])).to.deep.equal([{host: '1.1.1.1', port: 53}, {host: '10.0.0.1', port: 53}])
      expect(settingsUpstreams([], () => [{host: '10.0.0.1', port: 53}])).to.deep.equal([])
    })
  })

  describe('the settings file', () => {
    let dir: string
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'dlite-dns-settings-'))
    })
    afterEach(() => rmSync(dir, {recursive: true, force: true}))

    it('defaults (disabled, docker, TTL 0, system upstream, container DNS) when there is no file', () => {
      expect(readSettings(join(dir, 'none'))).to.deep.equal(DEFAULT_SETTINGS)
      expect(DEFAULT_SETTINGS).to.deep.include({enabled: false, domain: 'docker', ttl: 0, upstream: ['system'], containerDns: true, loopback: false, resolver: 'auto'})
    })

    it('round-trips through an atomic write, leaving no temporary file', () => {
      const settings = {...DEFAULT_SETTINGS, enabled: true, domain: 'dev.docker', ttl: 5, upstream: ['1.1.1.1:53'], loopback: true}
      writeSettings(join(dir, 'state'), settings)
      expect(readSettings(join(dir, 'state'))).to.deep.equal(settings)
      expect(readdirSync(join(dir, 'state'))).to.deep.equal(['settings.json'])
      expect(JSON.parse(readFileSync(join(dir, 'state', 'settings.json'), 'utf8'))).to.deep.equal(settings)
    })

    it('validates what it reads: a tampered file is an error naming the fix', () => {
      writeFileSync(join(dir, 'settings.json'), JSON.stringify({enabled: true, domain: '../../etc'}))
      expect(() => readSettings(dir)).to.throw(SettingsError, /not a valid DNS name/)
      writeFileSync(join(dir, 'settings.json'), '{not json')
      expect(() => readSettings(dir)).to.throw(SettingsError, /not valid JSON/)
      expect(() => validateSettings({resolver: 'bogus'})).to.throw(SettingsError)
      expect(() => validateSettings({enabled: 'yes'})).to.throw(SettingsError)
      expect(() => validateSettings([])).to.throw(SettingsError)
    })
  })
})
