import {expect} from 'chai'

import {conflictingRoutes, describeRoute, parseIpRouteJson, parseNetstatRoutes, routesViaVm} from 'dlite-kit/routes'

import {fixture} from './helpers.js'

describe('host routes', () => {
  describe('Linux: ip -j -4 route', () => {
    it('parses a table captured in the e2e namespace (two routes via the VM, the bridge subnet)', () => {
      expect(parseIpRouteJson(fixture('ip-route.json'))).to.deep.equal([
        {dst: '172.17.0.0/16', gateway: '192.168.64.2', dev: 'dlbr-176a3d'},
        {dst: '172.18.0.0/16', gateway: '192.168.64.2', dev: 'dlbr-176a3d'},
        {dst: '192.168.64.0/24', dev: 'dlbr-176a3d'},
      ])
    })
  })

  describe('macOS: netstat -rn -f inet', () => {
    it('parses the IPv4 table and leaves out link-layer (ARP and broadcast) entries', () => {
      const routes = parseNetstatRoutes(fixture('darwin-netstat-rn.txt'))
      expect(routes.map((r) => r.dst)).to.deep.equal([
        '0.0.0.0/0', '10.8.0.0/16', '127.0.0.0/8', '127.0.0.1/32', '169.254.0.0/16', '172.17.0.0/16',
        '192.168.1.0/24', '192.168.1.1/32', '192.168.64.0/24', '224.0.0.0/4', '255.255.255.255/32',
      ])
      expect(routes.find((r) => r.dst === '172.17.0.0/16')).to.deep.equal({dst: '172.17.0.0/16', gateway: '192.168.64.2', dev: 'bridge100'})
      expect(routes.find((r) => r.dst === '192.168.64.0/24')).to.deep.equal({dst: '192.168.64.0/24', dev: 'bridge100'})
      expect(routesViaVm(routes, '192.168.64.2').map((r) => r.dst)).to.deep.equal(['172.17.0.0/16'])
    })
  })

  describe('conflicts', () => {
    const table = parseIpRouteJson(JSON.stringify([
      {dst: 'default', gateway: '10.0.0.1', dev: 'eth0'},
      {dst: '10.0.0.0/24', dev: 'eth0'},
      {dst: '172.16.0.0/12', gateway: '10.0.0.254', dev: 'eth0'},
      {dst: '192.168.64.0/24', dev: 'dlbr-test'},
      {dst: '172.17.0.0/16', gateway: '192.168.64.2', dev: 'dlbr-test'},
      {dst: '100.64.5.0/24', dev: 'wg0'},
      {type: 'blackhole', dst: '198.18.0.0/15'},
    ]))
    const vm = '192.168.64.2'

    it('a wider route (other than the default) conflicts: ours would take part of its space', () => {
      expect(conflictingRoutes('172.20.0.0/16', table, vm).map(describeRoute)).to.deep.equal(['172.16.0.0/12 via 10.0.0.254 dev eth0'])
    })

    it('a narrower route conflicts: it would take part of ours', () => {
      expect(conflictingRoutes('100.64.0.0/16', table, vm).map(describeRoute)).to.deep.equal(['100.64.5.0/24 dev wg0'])
    })

    it('the same prefix elsewhere, the VM subnet itself and special routes conflict', () => {
      expect(conflictingRoutes('10.0.0.0/24', table, vm)).to.have.length(1)
      expect(conflictingRoutes('192.168.64.0/20', table, vm).map(describeRoute)).to.deep.equal(['192.168.64.0/24 dev dlbr-test'])
      expect(conflictingRoutes('198.18.0.0/16', table, vm).map(describeRoute)).to.deep.equal(['blackhole 198.18.0.0/15'])
    })

    it('the default route and our own routes via the VM never conflict', () => {
      expect(conflictingRoutes('192.168.200.0/24', table, vm)).to.deep.equal([])
      // 172.17/16 is ours; only the operator's 172.16/12 is in the way
      expect(conflictingRoutes('172.17.0.0/16', table, vm).map((r) => r.dst)).to.deep.equal(['172.16.0.0/12'])
    })

    it('refuses a subnet that is not IPv4', () => {
      expect(() => conflictingRoutes('fd00::/64', table, vm)).to.throw(/not an IPv4 subnet/)
    })
  })
})
