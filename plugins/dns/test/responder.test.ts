// The responder over real UDP and TCP sockets on 127.0.0.1 (ephemeral ports). Upstreams are fake servers on
// loopback too: nothing here leaves the machine.
import {expect} from 'chai'
import {createSocket, type Socket as UdpSocket} from 'node:dgram'
import {createServer, type AddressInfo} from 'node:net'

import dnsPacket from 'dns-packet'

import {containerEntry, type ContainerEntry, type ContainerFacts} from '../src/container-names.js'
import {serveDns, type DnsServer} from '../src/dns-server.js'
import type {Zone} from '../src/name-lookup.js'
import {Responder, reverseName, type Forwarder} from '../src/responder.js'
import {sourceFilter} from '../src/source-filter.js'
import {forwardQuery} from '../src/upstream.js'
import {addresses, decodeReply, query, queryPacket, sendTcp, sendUdp} from './helpers/dns-client.js'

const HOST = '127.0.0.1'
/** The VM subnet the servers here are started for; loopback clients pass too. */
const ALLOWED = sourceFilter('192.168.64.0/24')

function container(id: string, ip: string, extra: Partial<ContainerFacts> = {}): ContainerEntry {
  return containerEntry({id, name: `/${id}`, image: 'busybox:local', labels: {}, env: [], networks: {bridge: {IPAddress: ip}}, ...extra})!
}

describe('dlite-dns responder (UDP and TCP on 127.0.0.1)', () => {
  const zone: Zone = {domain: 'docker', defaultTtl: 0, vm: {hostname: 'local.docker', ip: '192.168.64.2'}}
  let entries: ContainerEntry[]
  let forward: Forwarder | undefined
  let server: DnsServer
  let port: number

  before(async () => {
    const responder = new Responder({state: () => ({zone, entries}), forward: () => forward})
    server = await serveDns([{host: HOST, port: 0}], responder, ALLOWED)
    port = server.addresses[0].port
  })

  after(async () => {
    await server.close()
  })

  beforeEach(() => {
    forward = undefined
    entries = [
      container('web', '172.17.0.2'),
      container('db-1', '172.17.0.3', {labels: {'com.dnsdock.alias': 'db.docker', 'com.dnsdock.ttl': '30'}}),
      container('v6', '172.17.0.4', {image: 'nginx', networks: {bridge: {IPAddress: '172.17.0.4', GlobalIPv6Address: 'fd00::4'}}}),
    ]
  })

  it('listens on UDP and TCP on the same port', () => {
    expect(port).to.be.above(0)
    expect(server.addresses).to.deep.equal([{host: HOST, port}])
  })

  it('a source outside the VM subnet and loopback gets nothing: no UDP answer (not even a refusal), its TCP connection closed', async () => {
    const responder = new Responder({state: () => ({zone, entries}), forward: () => undefined})
    const seenFrom: string[] = []
    const closed = await serveDns([{host: HOST, port: 0}], responder, (address) => {
      seenFrom.push(address)
      return false
    })
    try {
      const p = closed.addresses[0].port
      const udp = await query(HOST, p, 'web.docker', 'A', {timeoutMs: 500}).then(() => 'answered', (error: Error) => error.message)
      expect(udp).to.match(/no UDP answer/)
      const tcp = await query(HOST, p, 'web.docker', 'A', {transport: 'tcp', timeoutMs: 1000}).then(() => 'answered', (error: Error) => error.message)
      expect(tcp).to.not.equal('answered')
      expect(seenFrom).to.deep.equal([HOST, HOST])
    } finally {
      await closed.close()
    }
  })

  it('the source filter: the VM subnet and loopback only', () => {
    for (const ok of ['192.168.64.2', '192.168.64.1', '192.168.64.255', '127.0.0.1', '127.8.0.1', '::1', '::ffff:192.168.64.7']) expect(ALLOWED(ok), ok).to.equal(true)
    for (const bad of ['192.168.65.2', '10.0.0.1', '172.17.0.2', '8.8.8.8', 'fe80::1', '::ffff:10.0.0.1', '', 'x']) expect(ALLOWED(bad), bad).to.equal(false)
    expect(() => sourceFilter('192.168.64.0')).to.throw(/not an IPv4 subnet/)
  })

  it('a fixed port whose TCP side another program holds: a clear error, and the UDP side is let go', async () => {
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, HOST, resolve))
    const taken = (holder.address() as AddressInfo).port
    try {
      const responder = new Responder({state: () => ({zone, entries}), forward: () => undefined})
      const error = await serveDns([{host: HOST, port: taken}], responder, ALLOWED).then(() => undefined, (error_: Error) => error_)
      expect(error?.message).to.equal(`cannot listen on ${HOST}:${taken}/tcp: another program already uses it (another DNS server such as dnsmasq?)`)
      const udp = createSocket('udp4')
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject)
        udp.bind(taken, HOST, resolve)
      })
      udp.close()
    } finally {
      holder.close()
    }
  })

  for (const transport of ['udp', 'tcp'] as const) {
    describe(`over ${transport}`, () => {
      it('answers a container name authoritatively with its address and TTL 0', async () => {
        const reply = await query(HOST, port, 'web.busybox.docker', 'A', {transport, id: 4242})
        expect(reply.id).to.equal(4242)
        expect(reply.rcode).to.equal('NOERROR')
        expect(reply.flag_aa).to.equal(true)
        expect(reply.flag_rd).to.equal(true)
        expect(reply.answers).to.deep.equal([{name: 'web.busybox.docker', type: 'A', ttl: 0, class: 'IN', flush: false, data: '172.17.0.2'}])
      })

      it('returns every matching container', async () => {
        const reply = await query(HOST, port, 'busybox.docker', 'A', {transport})
        expect(addresses(reply)).to.deep.equal(['172.17.0.2', '172.17.0.3'])
      })

      it('uses a container TTL label', async () => {
        const reply = await query(HOST, port, 'db.docker', 'A', {transport})
        expect(reply.answers?.map((a) => [a.type === 'A' && a.data, (a as {ttl: number}).ttl])).to.deep.equal([['172.17.0.3', 30]])
      })

      it('AAAA for a name with only A records: NOERROR, no answers, the SOA', async () => {
        const reply = await query(HOST, port, 'web.busybox.docker', 'AAAA', {transport})
        expect(reply.rcode).to.equal('NOERROR')
        expect(reply.answers).to.deep.equal([])
        expect(reply.authorities?.map((a) => [a.type, a.name])).to.deep.equal([['SOA', 'docker']])
      })

      it('AAAA for a container with an IPv6 address, and ANY gives both', async () => {
        expect(addresses(await query(HOST, port, 'v6.nginx.docker', 'AAAA', {transport}))).to.deep.equal(['fd00::4'])
        expect(addresses(await query(HOST, port, 'v6.nginx.docker', 'ANY', {transport}))).to.deep.equal(['172.17.0.4', 'fd00::4'])
      })

      it('an unknown name under the domain: NXDOMAIN with the SOA (negative TTL 0)', async () => {
        const reply = await query(HOST, port, 'nope.docker', 'A', {transport})
        expect(reply.rcode).to.equal('NXDOMAIN')
        expect(reply.flag_aa).to.equal(true)
        const soa = reply.authorities?.[0] as {type: string; data: {minimum: number}; ttl: number}
        expect(soa.type).to.equal('SOA')
        expect(soa.data.minimum).to.equal(0)
        expect(soa.ttl).to.equal(0)
      })

      it('a name outside the domain without an upstream: REFUSED, no recursion offered', async () => {
        const reply = await query(HOST, port, 'example.com', 'A', {transport})
        expect(reply.rcode).to.equal('REFUSED')
        expect(reply.flag_ra).to.equal(false)
        expect(reply.answers).to.deep.equal([])
      })

      it('the VM hostname resolves', async () => {
        expect(addresses(await query(HOST, port, 'local.docker', 'A', {transport}))).to.deep.equal(['192.168.64.2'])
      })
    })
  }

  it('keeps the case of the question in the answer', async () => {
    const reply = await query(HOST, port, 'Web.BusyBox.Docker', 'A')
    expect(reply.questions?.[0].name).to.equal('Web.BusyBox.Docker')
    expect(reply.answers?.[0].name).to.equal('Web.BusyBox.Docker')
  })

  it('answers the SOA at the apex, and an empty domain is NOERROR, not NXDOMAIN', async () => {
    const soa = await query(HOST, port, 'docker', 'SOA')
    expect(soa.answers?.map((a) => a.type)).to.deep.equal(['SOA'])
    entries = []
    const empty = await query(HOST, port, 'docker', 'A')
    expect(empty.rcode).to.equal('NOERROR')
    expect(empty.answers).to.deep.equal([])
  })

  it('answers from the state at the time of the query (a container that went is NXDOMAIN)', async () => {
    expect(addresses(await query(HOST, port, 'web.busybox.docker', 'A'))).to.deep.equal(['172.17.0.2'])
    entries = entries.filter((e) => e.container !== 'web')
    expect((await query(HOST, port, 'web.busybox.docker', 'A')).rcode).to.equal('NXDOMAIN')
  })

  it('answers PTR queries for container addresses', async () => {
    const reply = await query(HOST, port, '3.0.17.172.in-addr.arpa', 'PTR')
    expect(reply.answers?.map((a) => (a as {data: string}).data)).to.deep.equal(['db-1.busybox.docker', 'db.docker'])
    expect((await query(HOST, port, '9.9.9.10.in-addr.arpa', 'PTR')).rcode).to.equal('REFUSED')
    expect(reverseName('4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa')).to.equal('fd00::4')
  })

  describe('TCP framing', () => {
    it('answers several queries sent in one write, each by its ID', async () => {
      const messages = [queryPacket('web.busybox.docker', 'A', {id: 1}), queryPacket('nope.docker', 'A', {id: 2}), queryPacket('db.docker', 'A', {id: 3})]
      const replies = (await sendTcp(messages, HOST, port)).map((r) => decodeReply(r))
      expect(replies.map((r) => [r.id, r.rcode]).sort()).to.deep.equal([[1, 'NOERROR'], [2, 'NXDOMAIN'], [3, 'NOERROR']])
    })

    it('reassembles queries that arrive a few bytes at a time', async () => {
      const messages = [queryPacket('web.busybox.docker', 'A', {id: 7}), queryPacket('busybox.docker', 'A', {id: 8})]
      const replies = (await sendTcp(messages, HOST, port, {chunkSize: 3})).map((r) => dnsPacket.decode(r))
      expect(replies.map((r) => r.id).sort()).to.deep.equal([7, 8])
    })
  })

  describe('big answers', () => {
    beforeEach(() => {
      entries = Array.from({length: 30}, (_, i) => container(`c${i}`, `172.17.1.${i + 1}`))
    })

    it('over UDP without EDNS, a reply over 512 bytes is truncated (TC) with no answers', async () => {
      const reply = dnsPacket.decode(await sendUdp(queryPacket('busybox.docker', 'A'), HOST, port))
      expect(reply.flag_tc).to.equal(true)
      expect(reply.answers).to.deep.equal([])
    })

    it('over UDP with EDNS (4096), up to 1232 bytes fit', async () => {
      const raw = await sendUdp(queryPacket('busybox.docker', 'A', {edns: 4096}), HOST, port)
      const reply = dnsPacket.decode(raw)
      expect(reply.flag_tc).to.equal(false)
      expect(reply.answers).to.have.length(30)
      expect(raw.length).to.be.at.most(1232)
      expect(reply.additionals?.map((a) => a.type)).to.deep.equal(['OPT'])
    })

    it('over TCP everything comes', async () => {
      entries = Array.from({length: 200}, (_, i) => container(`c${i}`, `172.17.2.${i + 1}`))
      const reply = await query(HOST, port, 'busybox.docker', 'A', {transport: 'tcp'})
      expect(reply.flag_tc).to.equal(false)
      expect(reply.answers).to.have.length(200)
    })
  })

  describe('malformed and unusual messages', () => {
    const responder = new Responder({state: () => ({zone, entries: []})})

    it('does not answer responses or runts', async () => {
      const response = Buffer.from(queryPacket('web.docker', 'A'))
      response.writeUInt16BE(response.readUInt16BE(2) | 0x8000, 2)
      expect(await responder.respond(response, 'udp')).to.equal(undefined)
      expect(await responder.respond(Buffer.from([1, 2, 3]), 'udp')).to.equal(undefined)
    })

    it('garbage after a header: FORMERR with the same ID', async () => {
      const garbage = Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]), Buffer.from([0xff, 0xff])])
      const reply = decodeReply((await responder.respond(garbage, 'udp'))!)
      expect([reply.id, reply.rcode]).to.deep.equal([0x1234, 'FORMERR'])
    })

    it('a non-QUERY opcode: NOTIMP', async () => {
      const message = Buffer.from(queryPacket('web.docker', 'A', {id: 9}))
      message.writeUInt16BE(message.readUInt16BE(2) | (2 << 11), 2) // STATUS
      const reply = decodeReply((await responder.respond(message, 'udp'))!)
      expect(reply.rcode).to.equal('NOTIMP')
    })

    it('a type it does not serve (HTTPS, 65) for a name that exists: NOERROR with no answers', async () => {
      const withWeb = new Responder({state: () => ({zone, entries: [container('web', '172.17.0.2')]})})
      const message = Buffer.from(queryPacket('web.busybox.docker', 'A', {id: 11}))
      message.writeUInt16BE(65, message.length - 4) // the question's type
      const reply = decodeReply((await withWeb.respond(message, 'udp'))!)
      expect([reply.rcode, reply.answers?.length, reply.authorities?.[0]?.type]).to.deep.equal(['NOERROR', 0, 'SOA'])
    })

    it('several questions in one query: FORMERR', async () => {
      const message = dnsPacket.encode({type: 'query', id: 5, questions: [{type: 'A', name: 'a.docker'}, {type: 'A', name: 'b.docker'}]})
      const reply = decodeReply((await responder.respond(message, 'udp'))!)
      expect(reply.rcode).to.equal('FORMERR')
    })
  })

  describe('forwarding to an upstream', () => {
    let upstream: UdpSocket
    let spoofer: UdpSocket
    let upstreamPort: number
    const seen: string[] = []
    const seenIds: number[] = []

    before(async () => {
      // A fake upstream on loopback that answers every A query with 10.0.0.1 and TTL 60; big.example gets
      // 60 addresses (over 512 bytes). For spoofed.example an attacker at 127.0.0.2, same port, answers
      // first with the right ID and 6.6.6.6.
      upstream = createSocket('udp4')
      spoofer = createSocket('udp4')
      upstream.on('message', (message, from) => {
        const q = dnsPacket.decode(message)
        const name = q.questions![0].name
        seen.push(name)
        seenIds.push(q.id!)
        const answer = (data: string) => ({type: 'A' as const, name, ttl: 60, data})
        const reply = (data: string[]) => dnsPacket.encode({type: 'response', id: q.id, flags: dnsPacket.RECURSION_AVAILABLE, questions: q.questions, answers: data.map(answer)})
        if (name === 'spoofed.example') {
          spoofer.send(reply(['6.6.6.6']), from.port, from.address)
          setTimeout(() => upstream.send(reply(['10.0.0.1']), from.port, from.address), 100)
          return
        }
        upstream.send(reply(name === 'big.example' ? Array.from({length: 60}, (_, i) => `10.0.1.${i}`) : ['10.0.0.1']), from.port, from.address)
      })
      await new Promise<void>((resolve) => upstream.bind(0, HOST, () => resolve()))
      upstreamPort = upstream.address().port
      await new Promise<void>((resolve) => spoofer.bind(upstreamPort, '127.0.0.2', () => resolve()))
    })

    after(() => {
      upstream.close()
      spoofer.close()
    })

    it('asks the upstream with a fresh random ID, and gives the client its own ID back', async () => {
      forward = (message, transport) => forwardQuery(message, [{host: HOST, port: upstreamPort}], transport, 1000)
      seenIds.length = 0
      for (let i = 0; i < 5; i++) expect((await query(HOST, port, `id${i}.example`, 'A', {id: 4242})).id).to.equal(4242)
      expect(seenIds).to.have.length(5)
      expect(seenIds.every((id) => id === 4242), `upstream saw ${seenIds.join(', ')}`).to.equal(false)
    })

    it('a reply from another address with the right ID and port is ignored; the real upstream\'s answer is used', async () => {
      forward = (message, transport) => forwardQuery(message, [{host: HOST, port: upstreamPort}], transport, 1000)
      const reply = await query(HOST, port, 'spoofed.example', 'A')
      expect(addresses(reply)).to.deep.equal(['10.0.0.1'])
    })

    it('a forwarded answer too big for the UDP client is truncated (TC, no answers): it asks again over TCP', async () => {
      forward = (message, transport) => forwardQuery(message, [{host: HOST, port: upstreamPort}], transport, 1000)
      const small = await query(HOST, port, 'big.example', 'A')
      expect(small.flag_tc).to.equal(true)
      expect(small.answers).to.deep.equal([])
      expect(small.questions?.[0].name).to.equal('big.example')
    })

    it('forwards names outside the domain and passes the answer through', async () => {
      forward = (message, transport) => forwardQuery(message, [{host: HOST, port: upstreamPort}], transport, 1000)
      const reply = await query(HOST, port, 'example.com', 'A', {id: 777})
      expect(reply.id).to.equal(777)
      expect(reply.rcode).to.equal('NOERROR')
      expect(addresses(reply)).to.deep.equal(['10.0.0.1'])
      expect(seen).to.include('example.com')
    })

    it('never forwards names under the domain', async () => {
      forward = (message, transport) => forwardQuery(message, [{host: HOST, port: upstreamPort}], transport, 1000)
      seen.length = 0
      expect((await query(HOST, port, 'nope.docker', 'A')).rcode).to.equal('NXDOMAIN')
      expect(seen).to.deep.equal([])
    })

    it('offers recursion (RA) only when it can forward', async () => {
      forward = (message, transport) => forwardQuery(message, [{host: HOST, port: upstreamPort}], transport, 1000)
      expect((await query(HOST, port, 'web.busybox.docker', 'A')).flag_ra).to.equal(true)
    })

    it('an upstream that does not answer: SERVFAIL', async () => {
      const silent = createSocket('udp4')
      await new Promise<void>((resolve) => silent.bind(0, HOST, () => resolve()))
      forward = (message, transport) => forwardQuery(message, [{host: HOST, port: silent.address().port}], transport, 200)
      try {
        expect((await query(HOST, port, 'example.com', 'A')).rcode).to.equal('SERVFAIL')
      } finally {
        silent.close()
      }
    })
  })
})
