import {expect} from 'chai'

import {cidrsOverlap, formatCidr, isRfc1918, normalizePrefix, parseCidr, parseIpv4, parsePrefix} from '../src/ipv4.js'

describe('ipv4', () => {
  it('parses addresses and rejects what is not one', () => {
    expect(parseIpv4('192.168.64.2')).to.equal(0xc0a84002)
    expect(parseIpv4('255.255.255.255')).to.equal(0xffffffff)
    for (const bad of ['256.1.1.1', '1.2.3', '1.2.3.4.5', 'a.b.c.d', '', 'fe80::1', '01234.1.1.1', '010.1.1.1', '10.01.1.1', '00.0.0.0']) expect(parseIpv4(bad), bad).to.equal(undefined)
  })

  it('normalises prefixes: host bits cleared, bare addresses are /32', () => {
    expect(normalizePrefix('172.17.5.9/16')).to.equal('172.17.0.0/16')
    expect(normalizePrefix('10.1.2.3')).to.equal('10.1.2.3/32')
    expect(normalizePrefix('0.0.0.0/0')).to.equal('0.0.0.0/0')
    for (const bad of ['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/x', 'fd00::/8', '10.0.0.0/8/1']) expect(normalizePrefix(bad), bad).to.equal(undefined)
    expect(formatCidr(parsePrefix('192.168.1.77/24')!)).to.equal('192.168.1.0/24')
  })

  it('overlap: containment either way counts, neighbours do not', () => {
    const p = (s: string) => parsePrefix(s)!
    expect(cidrsOverlap(p('172.16.0.0/12'), p('172.18.0.0/16'))).to.equal(true)
    expect(cidrsOverlap(p('172.18.0.0/16'), p('172.16.0.0/12'))).to.equal(true)
    expect(cidrsOverlap(p('172.18.4.0/24'), p('172.18.0.0/16'))).to.equal(true)
    expect(cidrsOverlap(p('172.17.0.0/16'), p('172.18.0.0/16'))).to.equal(false)
    expect(cidrsOverlap(p('172.32.0.0/16'), p('172.16.0.0/12'))).to.equal(false)
    expect(cidrsOverlap(p('0.0.0.0/0'), p('10.0.0.0/8'))).to.equal(true)
  })

  it('CIDRs keep their address; only RFC 1918 networks count as private', () => {
    expect(parseCidr('192.168.64.1/24')).to.deep.equal({address: 0xc0a84001, prefix: 24})
    for (const bad of ['1.2.3.4/08', '1.2.3.4', '1.2.3.4/-1']) expect(parseCidr(bad), bad).to.equal(undefined)
    const p = (s: string) => parsePrefix(s)!
    for (const yes of ['10.0.0.0/8', '172.16.0.0/12', '172.31.5.0/24', '192.168.0.0/16']) expect(isRfc1918(p(yes)), yes).to.equal(true)
    for (const no of ['1.1.1.0/24', '172.32.0.0/16', '8.0.0.0/7', '0.0.0.0/0', '192.168.0.0/15', '100.64.0.0/10']) expect(isRfc1918(p(no)), no).to.equal(false)
  })
})
