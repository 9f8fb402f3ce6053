import {expect} from 'chai'

import {probeTargets, routableNetworks, type DockerContainer, type DockerNetwork} from '../src/docker-networks.js'
import {fixture} from './helpers.js'

// GET /networks and GET /containers/json as docker 26 in the dlite guest answered them (the default bridge,
// a user-defined network n1, an internal network n2, host and none; web1 on bridge, web2 on n1).
const networks = JSON.parse(fixture('docker-networks.json')) as DockerNetwork[]
const containers = JSON.parse(fixture('docker-containers.json')) as DockerContainer[]

describe('docker networks', () => {
  it('routes the default bridge and user-defined bridge networks, not internal ones, host or none', () => {
    const {routable, skipped} = routableNetworks(networks)
    expect(routable.map(({name, subnet}) => ({name, subnet}))).to.deep.equal([
      {name: 'bridge', subnet: '172.17.0.0/16'},
      {name: 'n1', subnet: '172.18.0.0/16'},
    ])
    expect(routable[1].id).to.equal('93a5162c8a12089005771528ae33ea0f50fac205e55b95fcfbd9bd566362aca8')
    expect(skipped).to.deep.equal([{name: 'n2', subnet: '172.19.0.0/16', reason: 'internal network: isolated from the host by design'}])
  })

  it('takes every IPv4 subnet of a network, ignores IPv6 ones, says why others are left out', () => {
    const {routable, skipped} = routableNetworks([
      {Id: 'a', Name: 'dual', Driver: 'bridge', IPAM: {Config: [{Subnet: '10.20.0.0/24'}, {Subnet: 'fd00:1::/64'}, {Subnet: '10.21.0.5/24'}]}},
      {Id: 'b', Name: 'mv', Driver: 'macvlan', IPAM: {Config: [{Subnet: '192.168.5.0/24'}]}},
      {Id: 'c', Name: 'v6only', Driver: 'bridge', IPAM: {Config: [{Subnet: 'fd00:2::/64'}]}},
      {Id: 'd', Name: 'noipam', Driver: 'bridge', IPAM: {Config: null}},
    ])
    expect(routable.map((n) => n.subnet)).to.deep.equal(['10.20.0.0/24', '10.21.0.0/24'])
    expect(skipped.map((s) => `${s.name}: ${s.reason}`)).to.deep.equal([
      "mv: driver macvlan: only bridge networks live behind the VM's address",
      'v6only: no IPv4 subnet',
      'noipam: no IPv4 subnet',
    ])
  })

  it('a network on public address space never becomes a host route (docker network create --subnet 1.1.1.0/24)', () => {
    const {routable, skipped} = routableNetworks([
      {Id: 'a', Name: 'cloudflare', Driver: 'bridge', IPAM: {Config: [{Subnet: '1.1.1.0/24'}]}},
      {Id: 'b', Name: 'edge', Driver: 'bridge', IPAM: {Config: [{Subnet: '172.32.0.0/16'}, {Subnet: '192.169.0.0/16'}, {Subnet: '0.0.0.0/0'}, {Subnet: '8.0.0.0/7'}]}},
      {Id: 'c', Name: 'wide', Driver: 'bridge', IPAM: {Config: [{Subnet: '172.0.0.0/8'}]}},
      {Id: 'd', Name: 'ok', Driver: 'bridge', IPAM: {Config: [{Subnet: '10.0.0.0/8'}, {Subnet: '172.31.255.0/24'}, {Subnet: '192.168.99.0/24'}]}},
    ])
    expect(routable.map((n) => n.subnet)).to.deep.equal(['10.0.0.0/8', '172.31.255.0/24', '192.168.99.0/24'])
    expect(skipped.map((s) => s.subnet)).to.deep.equal(['1.1.1.0/24', '172.32.0.0/16', '192.169.0.0/16', '0.0.0.0/0', '8.0.0.0/7', '172.0.0.0/8'])
    for (const s of skipped) expect(s.reason).to.match(/not private address space/)
  })

  it('picks one running container per routed network for the live check, port 80 when none is declared', () => {
    const {routable} = routableNetworks(networks)
    expect(probeTargets(containers, routable)).to.deep.equal([
      {network: 'bridge', container: 'web1', ip: '172.17.0.2', port: 80},
      {network: 'n1', container: 'web2', ip: '172.18.0.2', port: 80},
    ])
  })

  it('prefers a declared TCP port and skips stopped containers', () => {
    const net = {id: 'n', name: 'n', subnet: '10.0.0.0/24'}
    const found = probeTargets([
      {Id: 'stopped', Names: ['/old'], State: 'exited', NetworkSettings: {Networks: {n: {IPAddress: '10.0.0.9', NetworkID: 'n'}}}},
      {Id: 'abcdef0123456789', State: 'running', Ports: [{PrivatePort: 53, Type: 'udp'}, {PrivatePort: 5432, Type: 'tcp'}], NetworkSettings: {Networks: {n: {IPAddress: '10.0.0.3', NetworkID: 'n'}}}},
    ], [net])
    expect(found).to.deep.equal([{network: 'n', container: 'abcdef012345', ip: '10.0.0.3', port: 5432}])
    expect(probeTargets([], [net])).to.deep.equal([])
  })
})
