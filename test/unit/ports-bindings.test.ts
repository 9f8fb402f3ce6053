// Which host loopback listeners a container's docker inspect document asks for.
import {expect} from 'chai'

import {bindingsOf, forwardKey, loopbacksFor, type ContainerInspect} from '../../src/daemon/ports/bindings.js'

type Ports = NonNullable<NonNullable<ContainerInspect['NetworkSettings']>['Ports']>

const container = (ports: Ports | null | undefined, running = true): ContainerInspect => ({
  Id: 'c0ffee1234567890',
  Name: '/web',
  State: {Running: running},
  NetworkSettings: {Ports: ports},
})

const both = ['127.0.0.1', '::1']

describe('published port bindings', () => {
  it('a default publish (0.0.0.0 and :: both listed) is one binding on both loopbacks', () => {
    const bindings = bindingsOf(container({'80/tcp': [{HostIp: '0.0.0.0', HostPort: '8080'}, {HostIp: '::', HostPort: '8080'}]}))
    expect(bindings).to.deep.equal([
      {containerId: 'c0ffee1234567890', containerName: 'web', proto: 'tcp', hostPort: 8080, containerPort: 80, listen: both},
    ])
  })

  it('-p 127.0.0.1:X:Y listens on 127.0.0.1 only', () => {
    const [binding] = bindingsOf(container({'80/tcp': [{HostIp: '127.0.0.1', HostPort: '8080'}]}))
    expect(binding.listen).to.deep.equal(['127.0.0.1'])
  })

  it('-p [::1]:X:Y listens on ::1 only', () => {
    const [binding] = bindingsOf(container({'80/tcp': [{HostIp: '::1', HostPort: '8080'}]}))
    expect(binding.listen).to.deep.equal(['::1'])
  })

  it('127.0.0.1 and [::1] publishes of one port merge into one binding', () => {
    const bindings = bindingsOf(container({'80/tcp': [{HostIp: '::1', HostPort: '8080'}, {HostIp: '127.0.0.1', HostPort: '8080'}]}))
    expect(bindings).to.have.length(1)
    expect(bindings[0].listen).to.deep.equal(both)
  })

  it('an empty, wildcard or non-loopback HostIp means both loopbacks', () => {
    for (const hostIp of ['', '0.0.0.0', '::', '192.168.64.2', 'fd00::2', undefined]) {
      expect(loopbacksFor(hostIp), String(hostIp)).to.deep.equal(both)
    }
  })

  it('reads udp', () => {
    const bindings = bindingsOf(container({'53/udp': [{HostIp: '0.0.0.0', HostPort: '5353'}]}))
    expect(bindings).to.deep.equal([
      {containerId: 'c0ffee1234567890', containerName: 'web', proto: 'udp', hostPort: 5353, containerPort: 53, listen: both},
    ])
  })

  it('tcp and udp on the same host port are separate bindings', () => {
    const bindings = bindingsOf(container({
      '53/udp': [{HostIp: '', HostPort: '5353'}],
      '53/tcp': [{HostIp: '', HostPort: '5353'}],
    }))
    expect(bindings.map((b) => `${b.proto}/${b.hostPort}`)).to.deep.equal(['tcp/5353', 'udp/5353'])
  })

  it('a range arrives as separate entries and gives one binding each, sorted by host port', () => {
    const bindings = bindingsOf(container({
      '82/tcp': [{HostIp: '0.0.0.0', HostPort: '9002'}, {HostIp: '::', HostPort: '9002'}],
      '80/tcp': [{HostIp: '0.0.0.0', HostPort: '9000'}, {HostIp: '::', HostPort: '9000'}],
      '81/tcp': [{HostIp: '0.0.0.0', HostPort: '9001'}, {HostIp: '::', HostPort: '9001'}],
    }))
    expect(bindings.map((b) => [b.hostPort, b.containerPort])).to.deep.equal([[9000, 80], [9001, 81], [9002, 82]])
    expect(bindings.every((b) => b.listen.length === 2)).to.equal(true)
  })

  it('exposed but unpublished ports (null) and missing Ports give nothing', () => {
    expect(bindingsOf(container({'80/tcp': null}))).to.deep.equal([])
    expect(bindingsOf(container(null))).to.deep.equal([])
    expect(bindingsOf(container(undefined))).to.deep.equal([])
    expect(bindingsOf({Id: 'x', NetworkSettings: null})).to.deep.equal([])
    expect(bindingsOf({Id: 'x'})).to.deep.equal([])
  })

  it('skips entries with no host port, "" or "0"', () => {
    const bindings = bindingsOf(container({
      '80/tcp': [{HostIp: '0.0.0.0', HostPort: ''}, {HostIp: '0.0.0.0', HostPort: '0'}, {HostIp: '0.0.0.0'}],
      '81/tcp': [{HostIp: '0.0.0.0', HostPort: '8081'}],
    }))
    expect(bindings.map((b) => b.hostPort)).to.deep.equal([8081])
  })

  it('skips sctp and malformed keys without failing', () => {
    const bindings = bindingsOf(container({
      '132/sctp': [{HostIp: '0.0.0.0', HostPort: '1320'}],
      'nonsense': [{HostIp: '0.0.0.0', HostPort: '1'}],
      '80/tcp': [{HostIp: '0.0.0.0', HostPort: '8080'}],
    }))
    expect(bindings.map((b) => b.proto + b.hostPort)).to.deep.equal(['tcp8080'])
  })

  it('a container that is not running publishes nothing', () => {
    expect(bindingsOf(container({'80/tcp': [{HostIp: '0.0.0.0', HostPort: '8080'}]}, false))).to.deep.equal([])
  })

  it('a listen address is claimed once per host port even by two container ports', () => {
    const bindings = bindingsOf(container({
      '80/tcp': [{HostIp: '0.0.0.0', HostPort: '8080'}],
      '81/tcp': [{HostIp: '127.0.0.1', HostPort: '8080'}],
    }))
    expect(bindings).to.have.length(1)
    expect(bindings[0]).to.include({containerPort: 80})
  })

  it('forward keys tell protocol, address and port apart', () => {
    expect(forwardKey('tcp', '127.0.0.1', 8080)).to.equal('tcp:127.0.0.1:8080')
    expect(forwardKey('udp', '::1', 8080)).to.equal('udp:[::1]:8080')
    const keys = new Set([
      forwardKey('tcp', '127.0.0.1', 8080), forwardKey('udp', '127.0.0.1', 8080),
      forwardKey('tcp', '::1', 8080), forwardKey('tcp', '127.0.0.1', 8081),
    ])
    expect(keys.size).to.equal(4)
  })
})
