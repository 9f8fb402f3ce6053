import {expect} from 'chai'

import {containerEntry, imageName, type ContainerEntry, type ContainerFacts} from '../src/container-names.js'
import {labelsMatch, lookupName, reverseLookup, servedNames, type Zone} from '../src/name-lookup.js'

function facts(overrides: Partial<ContainerFacts> & {id: string}): ContainerFacts {
  return {
    name: `/${overrides.id}`, image: 'busybox:local', imageId: 'sha256:' + 'ab'.repeat(32), labels: {}, env: [],
    networks: {bridge: {IPAddress: '172.17.0.2'}}, ...overrides,
  }
}

function entry(overrides: Partial<ContainerFacts> & {id: string}): ContainerEntry {
  const result = containerEntry(facts(overrides), {vmIp: '192.168.64.2'})
  if (!result) throw new Error('expected an entry')
  return result
}

const zone: Zone = {domain: 'docker', defaultTtl: 0, vm: {hostname: 'local.docker', ip: '192.168.64.2'}}

/** The addresses a query name answers, sorted; undefined when the name is not ours at all. */
function answer(name: string, entries: ContainerEntry[], z: Zone = zone): string[] | undefined {
  const result = lookupName(name, z, entries)
  return result?.matches.flatMap((m) => [...m.ipv4, ...m.ipv6]).sort()
}

describe('dlite-dns naming (dnsdock rules)', () => {
  describe('image names', () => {
    const cases: Array<[string, string]> = [
      ['busybox:local', 'busybox'],
      ['busybox', 'busybox'],
      ['library/redis:7', 'redis'],
      ['registry.example.com:5000/team/app:1.2', 'app'],
      ['registry.example.com:5000/team/app', 'app'],
      ['ghcr.io/org/tool@sha256:' + 'cd'.repeat(32), 'tool'],
      ['ghcr.io/org/tool:1@sha256:' + 'cd'.repeat(32), 'tool'],
      ['My-Image:Latest', 'my-image'],
      ['sha256:' + 'ab'.repeat(32), ''],
    ]
    for (const [reference, expected] of cases) {
      it(`${reference} -> "${expected}"`, () => expect(imageName(reference, 'sha256:' + 'ab'.repeat(32))).to.equal(expected))
    }

    it('drops an image given as an ID prefix, but keeps a hex-looking name that is not the ID', () => {
      expect(imageName('abab12', 'sha256:abab12' + '0'.repeat(58))).to.equal('')
      expect(imageName('cafe', 'sha256:' + 'ab'.repeat(32))).to.equal('cafe')
      expect(imageName('abc', 'sha256:abc' + '0'.repeat(61))).to.equal('abc') // too short to judge, as dnsdock
    })
  })

  describe('container entries', () => {
    it('takes the name without the slash, the image name and every network address', () => {
      const e = entry({id: 'c1', name: '/Web', networks: {bridge: {IPAddress: '172.17.0.2'}, zeta: {IPAddress: '172.18.0.5', GlobalIPv6Address: 'fd00::5'}}})
      expect(e).to.deep.include({container: 'Web', name: ['web'], image: ['busybox'], aliases: [], ipv4: ['172.17.0.2', '172.18.0.5'], ipv6: ['fd00::5']})
      expect(e.ttl).to.equal(undefined)
    })

    it('skips a container with no address, unless com.dnsdock.ip_addr gives one', () => {
      expect(containerEntry(facts({id: 'c', networks: {}}))).to.equal(undefined)
      expect(containerEntry(facts({id: 'c', networks: {}, labels: {'com.dnsdock.ip_addr': '10.0.0.9'}}))?.ipv4).to.deep.equal(['10.0.0.9'])
    })

    it('gives a container on the host network the VM address', () => {
      expect(entry({id: 'h', networks: {host: {IPAddress: ''}}, networkMode: 'host'}).ipv4).to.deep.equal(['192.168.64.2'])
    })

    it('labels override name, image, aliases, ttl and address', () => {
      const e = entry({id: 'c', labels: {
        'com.dnsdock.name': 'master', 'com.dnsdock.image': 'mysql', 'com.dnsdock.alias': 'db.docker, SQL.docker.',
        'com.dnsdock.ttl': '10', 'com.dnsdock.ip_addr': 'fd00::9',
      }})
      expect(e).to.deep.include({name: ['master'], image: ['mysql'], aliases: [['db', 'docker'], ['sql', 'docker']], ttl: 10, ipv4: [], ipv6: ['fd00::9']})
    })

    it('the DNSDOCK_* environment overrides too, and labels win over it', () => {
      const env = ['DNSDOCK_NAME=master', 'DNSDOCK_IMAGE=mysql', 'DNSDOCK_TTL=10', 'DNSDOCK_ALIAS=db.docker,sql.docker', 'DNSDOCK_IPADDRESS=10.1.1.1', 'PATH=/bin']
      expect(entry({id: 'c', env})).to.deep.include({name: ['master'], image: ['mysql'], ttl: 10, aliases: [['db', 'docker'], ['sql', 'docker']], ipv4: ['10.1.1.1']})
      expect(entry({id: 'c', env, labels: {'com.dnsdock.name': 'replica', 'com.dnsdock.ttl': '3'}})).to.deep.include({name: ['replica'], image: ['mysql'], ttl: 3})
      expect(entry({id: 'c', env: ['DNSDOCK_IP_ADDR=10.2.2.2']}).ipv4).to.deep.equal(['10.2.2.2'])
    })

    it('an empty name or image label leaves that part out', () => {
      expect(entry({id: 'c', labels: {'com.dnsdock.image': ''}}).image).to.deep.equal([])
      expect(entry({id: 'c', labels: {'com.dnsdock.name': ''}}).name).to.deep.equal([])
    })

    it('ignores a container with com.dnsdock.ignore or DNSDOCK_IGNORE, whatever the value, except an explicit false', () => {
      expect(containerEntry(facts({id: 'c', labels: {'com.dnsdock.ignore': ''}}))).to.equal(undefined)
      expect(containerEntry(facts({id: 'c', labels: {'com.dnsdock.ignore': 'true'}}))).to.equal(undefined)
      expect(containerEntry(facts({id: 'c', env: ['DNSDOCK_IGNORE=1']}))).to.equal(undefined)
      expect(containerEntry(facts({id: 'c', labels: {'com.dnsdock.ignore': 'false'}}))).to.not.equal(undefined)
    })

    it('keeps the default TTL for a TTL that is not a whole number, and bad addresses do not override', () => {
      expect(entry({id: 'c', labels: {'com.dnsdock.ttl': 'ten'}}).ttl).to.equal(undefined)
      expect(entry({id: 'c', labels: {'com.dnsdock.ttl': '-5'}}).ttl).to.equal(undefined)
      expect(entry({id: 'c', labels: {'com.dnsdock.ip_addr': 'nope'}}).ipv4).to.deep.equal(['172.17.0.2'])
    })
  })

  describe('label matching', () => {
    it('compares from the right, with * for any label, longer or shorter queries', () => {
      expect(labelsMatch(['web', 'busybox', 'docker'], ['web', 'busybox', 'docker'])).to.equal(true)
      expect(labelsMatch(['api', 'web', 'busybox', 'docker'], ['web', 'busybox', 'docker'])).to.equal(true)
      expect(labelsMatch(['busybox', 'docker'], ['web', 'busybox', 'docker'])).to.equal(true)
      expect(labelsMatch(['web', '*', 'docker'], ['web', 'busybox', 'docker'])).to.equal(true)
      expect(labelsMatch(['*', 'docker'], ['web', 'busybox', 'docker'])).to.equal(true)
      expect(labelsMatch(['web', 'docker'], ['web', 'busybox', 'docker'])).to.equal(false)
      expect(labelsMatch(['foo', 'busybox', 'docker'], ['web', 'busybox', 'docker'])).to.equal(false)
    })
  })

  describe('lookups', () => {
    const web = entry({id: 'w', name: '/web', networks: {bridge: {IPAddress: '172.17.0.2'}}})
    const db = entry({id: 'd', name: '/db-1', networks: {bridge: {IPAddress: '172.17.0.3'}}, labels: {'com.dnsdock.alias': 'db.docker'}})
    const redis = entry({id: 'r', name: '/cache', image: 'redis:7', networks: {bridge: {IPAddress: '172.17.0.4'}}, labels: {'com.dnsdock.ttl': '30'}})
    const outside = entry({id: 'o', name: '/api', image: 'app', networks: {bridge: {IPAddress: '172.17.0.5'}}, labels: {'com.dnsdock.alias': 'api.example.test'}})
    const all = [web, db, redis, outside]

    it('<container>.<image>.<domain> is that container', () => {
      expect(answer('web.busybox.docker', all)).to.deep.equal(['172.17.0.2'])
      expect(answer('db-1.busybox.docker', all)).to.deep.equal(['172.17.0.3'])
    })

    it('anything in front still means the container', () => {
      expect(answer('www.web.busybox.docker', all)).to.deep.equal(['172.17.0.2'])
      expect(answer('a.b.web.busybox.docker', all)).to.deep.equal(['172.17.0.2'])
    })

    it('<image>.<domain> is every container of the image', () => {
      expect(answer('busybox.docker', all)).to.deep.equal(['172.17.0.2', '172.17.0.3'])
      expect(answer('redis.docker', all)).to.deep.equal(['172.17.0.4'])
    })

    it('the bare domain, and *.<domain>, is every container (dnsdock), not the VM', () => {
      expect(answer('docker', all)).to.deep.equal(['172.17.0.2', '172.17.0.3', '172.17.0.4', '172.17.0.5'])
      expect(answer('*.docker', all)).to.deep.equal(['172.17.0.2', '172.17.0.3', '172.17.0.4', '172.17.0.5'])
    })

    it('wildcards stand for one label', () => {
      expect(answer('web.*.busybox.docker', all)).to.deep.equal(['172.17.0.2', '172.17.0.3']) // * is web or db-1
      expect(answer('cache.*.docker', [web, redis])).to.deep.equal(['172.17.0.4'])
      expect(answer('web.*.docker', [web, redis])).to.deep.equal(['172.17.0.2'])
      // `web.db.docker` is `<anything>.db.docker`, so the alias db.docker matches `web.*.docker` too, as in dnsdock.
      expect(answer('web.*.docker', all)).to.deep.equal(['172.17.0.2', '172.17.0.3'])
      expect(answer('*.busybox.docker', all)).to.deep.equal(['172.17.0.2', '172.17.0.3'])
      expect(answer('*.*.docker', all)).to.deep.equal(['172.17.0.2', '172.17.0.3', '172.17.0.4', '172.17.0.5'])
    })

    it('aliases answer, also with something in front, and the container keeps its usual names', () => {
      expect(answer('db.docker', all)).to.deep.equal(['172.17.0.3'])
      expect(answer('master.db.docker', all)).to.deep.equal(['172.17.0.3'])
      expect(answer('api.app.docker', all)).to.deep.equal(['172.17.0.5'])
    })

    it('an alias outside the domain is not served: a container labelled `com` or `github.com` hijacks nothing', () => {
      const hijack = entry({id: 'h', name: '/evil', networks: {bridge: {IPAddress: '172.17.0.9'}}, labels: {'com.dnsdock.alias': 'com,github.com,docker'}})
      const withHijack = [...all, hijack]
      for (const name of ['github.com', 'api.github.com', 'example.com', 'com', 'api.example.test', 'v2.api.example.test']) {
        expect(answer(name, withHijack), name).to.equal(undefined)
      }
      // the bare domain stays every container's, not the alias's alone
      expect(answer('docker', withHijack)).to.deep.equal(['172.17.0.2', '172.17.0.3', '172.17.0.4', '172.17.0.5', '172.17.0.9'])
      expect(servedNames(zone, withHijack).map((n) => n.name)).to.not.include.members(['com', 'github.com', 'api.example.test'])
    })

    it('a name that is not there under the domain matches nothing (NXDOMAIN), its name alone is not enough', () => {
      expect(answer('web.docker', all)).to.deep.equal([])
      expect(answer('nginx.docker', all)).to.deep.equal([])
      expect(answer('foo.busybox.docker', all)).to.deep.equal([])
      expect(lookupName('nginx.docker', zone, all)).to.deep.include({apex: 'docker', isApex: false})
    })

    it('names outside the domain and the aliases are not ours', () => {
      expect(answer('example.com', all)).to.equal(undefined)
      expect(answer('example.test', all)).to.equal(undefined) // only the alias and names under it
      expect(answer('docker.com', all)).to.equal(undefined)
      expect(answer('busybox.docker.evil', all)).to.equal(undefined)
    })

    it('the VM hostname answers in full, or with something in front', () => {
      expect(answer('local.docker', all)).to.deep.equal(['192.168.64.2'])
      expect(answer('LOCAL.Docker.', all)).to.deep.equal(['192.168.64.2'])
      expect(answer('x.local.docker', all)).to.deep.equal(['192.168.64.2'])
    })

    it('a bare VM hostname gets the domain; one outside the domain is served as it is', () => {
      expect(answer('dlite.docker', [], {...zone, vm: {hostname: 'dlite', ip: '192.168.64.2'}})).to.deep.equal(['192.168.64.2'])
      expect(answer('vm.example.test', [], {...zone, vm: {hostname: 'vm.example.test', ip: '192.168.64.2'}})).to.deep.equal(['192.168.64.2'])
    })

    it('is case-insensitive and ignores a trailing dot', () => {
      expect(answer('WEB.BusyBox.Docker.', all)).to.deep.equal(['172.17.0.2'])
    })

    it('uses a container TTL, else the zone default', () => {
      const matches = lookupName('docker', {...zone, defaultTtl: 7}, all)!.matches
      expect(matches.find((m) => m.source === 'cache')?.ttl).to.equal(30)
      expect(matches.find((m) => m.source === 'web')?.ttl).to.equal(7)
    })

    it('a multi-label domain works the same way', () => {
      const dev: Zone = {domain: 'dev.docker', defaultTtl: 0}
      expect(answer('web.busybox.dev.docker', all, dev)).to.deep.equal(['172.17.0.2'])
      expect(answer('busybox.dev.docker', all, dev)).to.deep.equal(['172.17.0.2', '172.17.0.3'])
      expect(answer('web.busybox.docker', all, dev)).to.equal(undefined)
    })

    it('a container without an image part is <name>.<domain>', () => {
      const bare = entry({id: 'b', name: '/solo', image: 'sha256:' + 'ab'.repeat(32), networks: {bridge: {IPAddress: '172.17.0.9'}}})
      expect(answer('solo.docker', [bare])).to.deep.equal(['172.17.0.9'])
    })
  })

  describe('served names and reverse lookups', () => {
    const web = entry({id: 'w', name: '/web', networks: {bridge: {IPAddress: '172.17.0.2'}}})
    const db = entry({id: 'd', name: '/db-1', networks: {bridge: {IPAddress: '172.17.0.3'}}, labels: {'com.dnsdock.alias': 'db.docker'}})

    it('lists every full name with what it answers', () => {
      const names = servedNames(zone, [web, db])
      expect(names.map((n) => n.name)).to.deep.equal(['busybox.docker', 'db-1.busybox.docker', 'db.docker', 'local.docker', 'web.busybox.docker'])
      expect(names.find((n) => n.name === 'busybox.docker')).to.deep.include({ipv4: ['172.17.0.3', '172.17.0.2'], sources: ['db-1', 'web'], ttl: 0})
      expect(names.find((n) => n.name === 'local.docker')).to.deep.include({ipv4: ['192.168.64.2'], sources: ['(vm)']})
    })

    it('maps an address back to its names', () => {
      expect(reverseLookup('172.17.0.3', zone, [web, db])).to.deep.equal({names: ['db-1.busybox.docker', 'db.docker'], ttl: 0})
      expect(reverseLookup('192.168.64.2', zone, [web, db])).to.deep.equal({names: ['local.docker'], ttl: 0})
      expect(reverseLookup('10.9.9.9', zone, [web, db])).to.equal(undefined)
    })
  })
})
