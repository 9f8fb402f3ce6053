import {expect} from 'chai'

import {describeRoute, parseIpRouteJson, parseNetstatDestination, parseProcNetRoute} from '../src/routes.js'

describe('routes', () => {
  describe('Linux: ip -j -4 route', () => {
    it('keeps default, host and special routes, skips what is not IPv4', () => {
      const json = JSON.stringify([
        {dst: 'default', gateway: '10.0.0.1', dev: 'eth0'},
        {dst: '10.9.9.9', gateway: '10.0.0.1', dev: 'eth0'},
        {type: 'unreachable', dst: '10.66.0.0/16'},
        {type: 'unicast', dst: '10.67.0.0/16', dev: 'eth1'},
        {dst: 'fd00::/8', dev: 'eth0'},
        {dev: 'eth0'},
      ])
      expect(parseIpRouteJson(json)).to.deep.equal([
        {dst: '0.0.0.0/0', gateway: '10.0.0.1', dev: 'eth0'},
        {dst: '10.9.9.9/32', gateway: '10.0.0.1', dev: 'eth0'},
        {dst: '10.66.0.0/16', type: 'unreachable'},
        {dst: '10.67.0.0/16', dev: 'eth1'},
      ])
      expect(parseIpRouteJson('')).to.deep.equal([])
      expect(() => parseIpRouteJson('{}')).to.throw(/JSON array/)
    })
  })

  describe('Linux: /proc/net/route', () => {
    it('parses little-endian hex, with gateways, and skips non-contiguous masks', () => {
      const text = [
        'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
        'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
        'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
        'br0\t0000A8C0\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
        'odd0\t0000000A\t00000000\t0001\t0\t0\t0\t00FF00FF\t0\t0\t0',
      ].join('\n')
      expect(parseProcNetRoute(text, true)).to.deep.equal([
        {dst: '0.0.0.0/0', gateway: '192.0.2.1', dev: 'eth0'},
        {dst: '192.0.2.0/24', dev: 'eth0'},
        {dst: '192.168.0.0/16', dev: 'br0'},
      ])
    })
  })

  describe('macOS: netstat -rn -f inet', () => {
    it('expands abbreviated destinations', () => {
      expect(parseNetstatDestination('default')).to.equal('0.0.0.0/0')
      expect(parseNetstatDestination('172.17')).to.equal('172.17.0.0/16')
      expect(parseNetstatDestination('127')).to.equal('127.0.0.0/8')
      expect(parseNetstatDestination('192.168.64')).to.equal('192.168.64.0/24')
      expect(parseNetstatDestination('10.8/16')).to.equal('10.8.0.0/16')
      expect(parseNetstatDestination('224.0.0/4')).to.equal('224.0.0.0/4')
      expect(parseNetstatDestination('192.168.1.1')).to.equal('192.168.1.1/32')
      expect(parseNetstatDestination('fe80::1%lo0')).to.equal(undefined)
    })
  })

  it('describes a route as ip route would print it', () => {
    expect(describeRoute({dst: '0.0.0.0/0', gateway: '10.0.0.1', dev: 'eth0'})).to.equal('default via 10.0.0.1 dev eth0')
    expect(describeRoute({dst: '198.18.0.0/15', type: 'blackhole'})).to.equal('blackhole 198.18.0.0/15')
  })
})
