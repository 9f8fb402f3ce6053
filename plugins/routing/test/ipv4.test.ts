import {expect} from 'chai'

import {formatPrefix, normalizePrefix, overlaps, parseIpv4, parsePrefix} from '../src/ipv4.js'

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
    expect(formatPrefix(parsePrefix('192.168.1.77/24')!)).to.equal('192.168.1.0/24')
  })

  it('overlap: containment either way counts, neighbours do not', () => {
    const p = (s: string) => parsePrefix(s)!
    expect(overlaps(p('172.16.0.0/12'), p('172.18.0.0/16'))).to.equal(true)
    expect(overlaps(p('172.18.0.0/16'), p('172.16.0.0/12'))).to.equal(true)
    expect(overlaps(p('172.18.4.0/24'), p('172.18.0.0/16'))).to.equal(true)
    expect(overlaps(p('172.17.0.0/16'), p('172.18.0.0/16'))).to.equal(false)
    expect(overlaps(p('172.32.0.0/16'), p('172.16.0.0/12'))).to.equal(false)
    expect(overlaps(p('0.0.0.0/0'), p('10.0.0.0/8'))).to.equal(true)
  })
})
