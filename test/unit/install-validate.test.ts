import {expect} from 'chai'

import {
  checkExtraArgs,
  checkFlagText,
  checkHome,
  checkOsFlag,
  formatValidationErrors,
  validateInstallOptions,
  type FsProbe,
  type InstallHostFacts,
  type InstallInput,
  type PathKind,
} from '../../src/install/validate.js'
import {splitShellWords} from '../../src/install/shell-words.js'
import {readHostRoutes} from '../../src/network/host-routes.js'

const GiB = 1024 ** 3
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVw7n3DQ1CxvnR7qV3f6Mbc7PvA8QbmD1mX8e2pGk9F user@host\n'
const RSA = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 user@host\n'

interface FakeEntry {
  kind: PathKind
  text?: string
  readable?: boolean
  writable?: boolean
}

/** An in-memory file system: only what a test lists exists. */
function fakeFs(entries: Record<string, FakeEntry>): FsProbe {
  const get = (path: string) => entries[path]
  return {
    kind: (path) => get(path)?.kind ?? 'missing',
    readable: (path) => get(path)?.readable ?? true,
    writable: (path) => get(path)?.writable ?? true,
    readHead: (path, max) => (get(path) && (get(path)!.readable ?? true) ? (get(path)!.text ?? '').slice(0, max) : undefined),
  }
}

function facts(extra: Record<string, FakeEntry> = {}, overrides: Partial<InstallHostFacts> = {}): InstallHostFacts {
  return {
    platform: 'linux',
    cpuCores: 8,
    memoryBytes: 16 * GiB,
    homeDir: '/home/ann',
    cwd: '/home/ann/work',
    routes: [
      {dst: '0.0.0.0/0', dev: 'eth0'},
      {dst: '10.0.0.0/16', dev: 'eth0'},
      {dst: '172.17.0.0/16', dev: 'docker0'},
    ],
    fs: fakeFs({
      '/': {kind: 'directory'},
      '/home': {kind: 'directory'},
      '/home/ann': {kind: 'directory'},
      '/home/ann/work': {kind: 'directory'},
      '/home/ann/.ssh': {kind: 'directory'},
      '/home/ann/.ssh/id_ed25519.pub': {kind: 'file', text: ED25519},
      '/home/ann/.ssh/id_ed25519': {kind: 'file', text: '-----BEGIN OPENSSH PRIVATE KEY-----\n', readable: false},
      '/home/ann/notes.txt': {kind: 'file', text: 'hello'},
      '/srv/os/manifest.json': {kind: 'file', text: '{}'},
      '/srv': {kind: 'directory'},
      '/srv/os': {kind: 'directory'},
      '/var': {kind: 'directory'},
      '/var/run': {kind: 'directory'},
      ...extra,
    }),
    defaultOsSource: '/srv/os/manifest.json',
    ...overrides,
  }
}

function errorsFor(input: InstallInput, f = facts()) {
  const result = validateInstallOptions(input, f)
  expect(result.ok, 'expected validation to fail').to.equal(false)
  return (result as {ok: false; errors: {flag: string; message: string; fix: string}[]}).errors
}

function expectOnlyError(input: InstallInput, flag: string, message: RegExp, f = facts()) {
  const errors = errorsFor(input, f)
  expect(errors.map((e) => e.flag)).to.deep.equal([flag])
  expect(errors[0].message).to.match(message)
  expect(errors[0].fix).to.be.a('string').and.not.equal('')
  return errors[0]
}

function optionsFor(input: InstallInput, f = facts()) {
  const result = validateInstallOptions(input, f)
  if (!result.ok) expect.fail(formatValidationErrors(result.errors))
  return (result as {ok: true; options: ReturnType<typeof Object>}).options as Record<string, unknown>
}

describe('install option validation', () => {
  it('fills every default from the host facts', () => {
    expect(optionsFor({})).to.deep.equal({
      network: 'user',
      cpus: 4,
      memoryGiB: 2,
      diskGiB: 20,
      hostname: 'local.docker',
      mounts: [{path: '/home/ann'}],
      sshKey: '/home/ann/.ssh/id_ed25519.pub',
      extraArgs: [],
      osSource: '/srv/os/manifest.json',
      subnet: '192.168.64.0/24',
      dockerSocket: '/home/ann/.dlite/docker.sock',
      accel: 'auto',
    })
  })

  it('normalizes good values (strings from the wizard, case, trailing slashes, ~)', () => {
    const options = optionsFor({
      cpus: '8', memory: '15', disk: 8, hostname: 'Dev.Docker', mounts: '~/work/', sshKey: '~/.ssh/id_ed25519.pub',
      extra: ["--label 'team=a b'", '--log-level=debug'], os: 'https://example.test/os/manifest.json', subnet: '10.1.0.0/16',
      dockerSocket: '/tmp/dlite-a/docker.sock', accel: 'TCG',
    }, facts({'/tmp': {kind: 'directory'}}))
    expect(options).to.include({cpus: 8, memoryGiB: 15, diskGiB: 8, hostname: 'dev.docker', subnet: '10.1.0.0/16', accel: 'tcg'})
    expect(options.mounts).to.deep.equal([{path: '/home/ann/work'}])
    expect(options.extraArgs).to.deep.equal(['--label', 'team=a b', '--log-level=debug'])
    expect(options.osSource).to.equal('https://example.test/os/manifest.json')
    expect(options.dockerSocket).to.equal('/tmp/dlite-a/docker.sock')
  })

  it('defaults cpus to half the cores, at least 1', () => {
    expect(optionsFor({}, facts({}, {cpuCores: 1})).cpus).to.equal(1)
    expect(optionsFor({}, facts({}, {cpuCores: 3})).cpus).to.equal(1)
  })

  it('reports every bad flag at once, each with a fix', () => {
    const errors = errorsFor({cpus: 0, memory: 0, disk: 1, hostname: '-x', mounts: 'rel', subnet: '8.8.8.0/24'})
    expect(errors.map((e) => e.flag)).to.deep.equal(['--cpus', '--memory', '--disk', '--hostname', '--mount', '--subnet'])
    expect(formatValidationErrors(errors).split('\n')).to.have.length(6)
  })

  describe('--cpus', () => {
    it('rejects 0, more than the host has, fractions, negatives and words', () => {
      expectOnlyError({cpus: 0}, '--cpus', /outside 1\.\.8/)
      expectOnlyError({cpus: 9}, '--cpus', /outside 1\.\.8/)
      expectOnlyError({cpus: 1.5}, '--cpus', /not a whole number/)
      expectOnlyError({cpus: '-2'}, '--cpus', /not a whole number/)
      expectOnlyError({cpus: 'two'}, '--cpus', /not a whole number/)
      expectOnlyError({cpus: '2x'}, '--cpus', /not a whole number/)
    })
  })

  describe('--memory', () => {
    it('rejects 0, all of the host RAM, fractions and words', () => {
      expectOnlyError({memory: 0}, '--memory', /outside 1\.\.15/)
      expectOnlyError({memory: 16}, '--memory', /outside 1\.\.15/)
      expectOnlyError({memory: '1.5'}, '--memory', /not a whole number/)
      expectOnlyError({memory: '2G'}, '--memory', /not a whole number/)
    })
    it('says when the host itself is too small, and clamps the default on a small host', () => {
      expectOnlyError({}, '--memory', /too little/, facts({}, {memoryBytes: 1.5 * GiB}))
      expect(optionsFor({}, facts({}, {memoryBytes: 2.5 * GiB})).memoryGiB).to.equal(1)
    })
  })

  describe('--disk', () => {
    it('rejects less than 8 GiB, absurd sizes and words', () => {
      const error = expectOnlyError({disk: 7}, '--disk', /too small/)
      expect(error.fix).to.match(/at least 8/)
      expectOnlyError({disk: 100_000}, '--disk', /more than/)
      expectOnlyError({disk: '20GB'}, '--disk', /not a whole number/)
    })
  })

  describe('--hostname', () => {
    const bad: [string, RegExp][] = [
      ['-local.docker', /not valid per RFC 1123/],
      ['local-.docker', /not valid per RFC 1123/],
      ['local_docker', /not valid per RFC 1123/],
      ['local..docker', /empty label/],
      ['.docker', /empty label/],
      ['local.docker.', /empty label/],
      ['a b', /not valid per RFC 1123/],
      ['dock\u00e9r', /not valid per RFC 1123/],
      [`${'a'.repeat(64)}.docker`, /longer than 63/],
      [Array(130).fill('ab').join('.'), /longer than 253/],
      ['10.0.0.1', /IP address/],
      ['localhost', /loopback/],
    ]
    for (const [name, message] of bad) {
      it(`rejects ${JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}...` : name)}`, () => {
        expectOnlyError({hostname: name}, '--hostname', message)
      })
    }
    it('accepts a single label and digits inside labels', () => {
      expect(optionsFor({hostname: 'dlite'}).hostname).to.equal('dlite')
      expect(optionsFor({hostname: '3d.docker'}).hostname).to.equal('3d.docker')
    })

    it('refuses a dotted name outside the reserved suffixes: --hostname github.com would take github.com from the whole host through /etc/hosts', () => {
      for (const name of ['github.com', 'registry.npmjs.org', 'vm.example.com', 'dlite.dev', 'local.docker.io']) {
        expectOnlyError({hostname: name}, '--hostname', /may belong to someone on the internet/)
      }
      const [error] = errorsFor({hostname: 'github.com'})
      expect(error.fix).to.include('DLITE_ALLOW_PUBLIC_NAMES=1')
      for (const name of ['local.docker', 'vm.example.test', 'dlite.internal', 'dev.local', 'com']) {
        expect(optionsFor({hostname: name}).hostname, name).to.equal(name)
      }
    })

    it('with the override, a name under a domain the user owns', () => {
      expect(optionsFor({hostname: 'vm.corp.example.com'}, facts({}, {publicNamesAllowed: true})).hostname).to.equal('vm.corp.example.com')
    })
  })

  describe('--mount', () => {
    it('rejects a relative path, suggesting the absolute one', () => {
      const error = expectOnlyError({mounts: 'src'}, '--mount', /not an absolute path/)
      expect(error.fix).to.contain('/home/ann/work/src')
      expect(expectOnlyError({mounts: 'src:ro'}, '--mount', /not an absolute path/).fix).to.contain('/home/ann/work/src:ro')
    })
    it('rejects a missing path and a file', () => {
      expectOnlyError({mounts: '/nope'}, '--mount', /does not exist/)
      expectOnlyError({mounts: '/home/ann/notes.txt'}, '--mount', /not a directory/)
    })
    it('takes several directories, read-only ones with :ro, ~ expanded', () => {
      expect(optionsFor({mounts: ['~', '/srv/os:ro', '/home/ann/work:rw']}).mounts).to.deep.equal([
        {path: '/home/ann'}, {path: '/srv/os', readOnly: true}, {path: '/home/ann/work'},
      ])
    })
    it('shares nothing with none, and refuses none among directories', () => {
      expect(optionsFor({mounts: ['none']}).mounts).to.deep.equal([])
      expectOnlyError({mounts: ['none', '/srv']}, '--mount', /none/)
    })
    it('refuses a directory given twice', () => {
      expectOnlyError({mounts: ['/srv/os', '/srv/os/:ro']}, '--mount', /twice/)
    })
    it("refuses what would hide the VM's own system or docker's state", () => {
      for (const path of ['/', '/var', '/usr/local/src', '/var/lib/docker', '/mnt/data/x', '/proc', '/etc']) {
        expectOnlyError({mounts: path}, '--mount', /would hide the VM's own/)
      }
    })
  })

  describe('--ssh-key', () => {
    it('falls back to id_rsa.pub, then to no key', () => {
      const rsaOnly = facts({'/home/ann/.ssh/id_ed25519.pub': {kind: 'missing'}, '/home/ann/.ssh/id_rsa.pub': {kind: 'file', text: RSA}})
      expect(optionsFor({}, rsaOnly).sshKey).to.equal('/home/ann/.ssh/id_rsa.pub')
      const none = facts({'/home/ann/.ssh/id_ed25519.pub': {kind: 'missing'}})
      expect(optionsFor({}, none).sshKey).to.equal(null)
      expect(optionsFor({sshKey: 'none'}).sshKey).to.equal(null)
    })
    it('rejects a missing file, a directory, an unreadable file and a non-key', () => {
      expectOnlyError({sshKey: '/home/ann/.ssh/id_nope.pub'}, '--ssh-key', /does not exist/)
      expectOnlyError({sshKey: '/home/ann/.ssh'}, '--ssh-key', /not a file/)
      expectOnlyError({sshKey: '/k.pub'}, '--ssh-key', /not readable/, facts({'/k.pub': {kind: 'file', text: ED25519, readable: false}}))
      expectOnlyError({sshKey: '/home/ann/notes.txt'}, '--ssh-key', /not an OpenSSH public key/)
    })
    it('rejects a private key and points at the .pub next to it', () => {
      const f = facts({'/home/ann/.ssh/id_ed25519': {kind: 'file', text: '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n'}})
      const error = expectOnlyError({sshKey: '~/.ssh/id_ed25519'}, '--ssh-key', /private key/, f)
      expect(error.fix).to.contain('/home/ann/.ssh/id_ed25519.pub')
    })
  })

  describe('--extra (dockerd args)', () => {
    const plainTcp = [
      '-H tcp://0.0.0.0:2375',
      '-Htcp://0.0.0.0:2375',
      '-H=tcp://0.0.0.0:2375',
      '--host tcp://127.0.0.1:2375',
      '--host=tcp://127.0.0.1:2375',
      '-DH tcp://0.0.0.0:2375',
      '-H :2375',
      '-H 0.0.0.0',
      '-H unix:///var/run/docker.sock -H TCP://0.0.0.0:2375',
      "--host='tcp://0.0.0.0:2375'",
    ]
    for (const args of plainTcp) {
      it(`rejects plain TCP: ${args}`, () => {
        const error = expectOnlyError({extra: args}, '--extra', /plain TCP/)
        expect(error.fix).to.match(/TLS/)
      })
    }
    it('rejects plain TCP given as a separate flag value in a list', () => {
      expectOnlyError({extra: ['--debug', '-H', 'tcp://0.0.0.0:2375']}, '--extra', /plain TCP/)
    })
    it('rejects turning client-certificate checks off', () => {
      expectOnlyError({extra: '--tlsverify=false'}, '--extra', /client-certificate/)
      expectOnlyError({extra: '-H tcp://0.0.0.0:2377 --tlsverify=0'}, '--extra', /client-certificate/)
    })
    it('rejects a host flag without a value and unbalanced quotes', () => {
      expectOnlyError({extra: '--debug -H'}, '--extra', /no value/)
      expectOnlyError({extra: "--label 'a"}, '--extra', /unterminated single quote/)
      expectOnlyError({extra: '--label "a'}, '--extra', /unterminated double quote/)
      expectOnlyError({extra: '--label a\\'}, '--extra', /trailing backslash/)
    })
    it('allows unix sockets, TCP with --tlsverify, and value-taking shorthands that contain an H', () => {
      expect(checkExtraArgs('-H unix:///run/extra.sock --log-level debug')).to.deep.include({ok: true})
      expect(checkExtraArgs('--tlsverify -H tcp://0.0.0.0:2377')).to.deep.include({ok: true})
      expect(checkExtraArgs('-p /run/Hello.pid')).to.deep.include({ok: true})
      expect(checkExtraArgs('-p/run/H.pid')).to.deep.include({ok: true})
    })
  })

  describe('--os', () => {
    it('requires a source when there is no default, naming where it looked and the command that builds one', () => {
      expectOnlyError({}, '--os', /no OS image was found/, facts({}, {defaultOsSource: undefined}))
      const error = expectOnlyError({}, '--os', /looked for \/cli\/os\/dist\/manifest\.json and \/data\/os\/manifest\.json/,
        facts({}, {defaultOsSource: undefined, osSearched: ['/cli/os/dist/manifest.json', '/data/os/manifest.json']}))
      expect(error.fix).to.include('`sudo dlite os build`').and.include('--os PATH|URL')
    })
    it('rejects a missing path, a directory, an unsupported scheme and a broken URL', () => {
      expectOnlyError({os: '/srv/nope.json'}, '--os', /does not exist/)
      expectOnlyError({os: '/srv/os'}, '--os', /not a file/)
      expectOnlyError({os: 'ftp://example.test/manifest.json'}, '--os', /unsupported URL scheme ftp:/)
      expectOnlyError({os: 'http://exa mple/x'}, '--os', /not a valid URL/)
      expectOnlyError({os: 'file:///srv/nope.json'}, '--os', /does not exist/)
    })
    it('refuses plain http (anyone on the way could serve another image) except from loopback, and a fragment that is not a pin', () => {
      const error = expectOnlyError({os: 'http://releases.example/os/manifest.json'}, '--os', /plain http:\/\/ can be changed by anyone on the way; use https:\/\//)
      expect(error.fix).to.include('https://')
      expect(optionsFor({os: 'http://127.0.0.1:8080/manifest.json'}).osSource).to.equal('http://127.0.0.1:8080/manifest.json')
      expectOnlyError({os: 'https://releases.example/m.json#latest'}, '--os', /#sha256=<64 hex digits>/)
      expectOnlyError({os: 'https://releases.example/m.json#sha256=abc'}, '--os', /#sha256=<64 hex digits>/)
    })
    it('keeps a pinned URL as given, so the pin goes into the config for every update', () => {
      const pinned = `https://releases.example/os/manifest.json#sha256=${'ab'.repeat(32)}`
      expect(optionsFor({os: pinned}).osSource).to.equal(pinned)
      const f = facts({'/srv/os/manifest.json': {kind: 'file'}})
      expect(optionsFor({os: `file:///srv/os/manifest.json#sha256=${'cd'.repeat(32)}`}, f).osSource).to.equal(`file:///srv/os/manifest.json#sha256=${'cd'.repeat(32)}`)
    })
    it('resolves a relative path and accepts a file:// URL of an existing file', () => {
      const f = facts({'/home/ann/work/m.json': {kind: 'file'}})
      expect(optionsFor({os: 'm.json'}, f).osSource).to.equal('/home/ann/work/m.json')
      expect(optionsFor({os: 'file:///srv/os/manifest.json'}).osSource).to.equal('/srv/os/manifest.json')
    })
  })

  describe('--subnet', () => {
    const bad: [string, RegExp, RegExp?][] = [
      ['192.168.64.0', /not an IPv4 CIDR/],
      ['192.168.64.0/33', /not an IPv4 CIDR/],
      ['192.168.300.0/24', /not an IPv4 CIDR/],
      ['192.168.064.0/24', /not an IPv4 CIDR/],
      ['fd00::/64', /not an IPv4 CIDR/],
      ['10.0.0.0/8', /outside \/16\.\.\/29/],
      ['192.168.64.0/30', /outside \/16\.\.\/29/],
      ['192.168.64.1/24', /not a network address/, /192\.168\.64\.0\/24/],
      ['8.8.8.0/24', /not a private network/],
      ['172.32.0.0/16', /not a private network/],
      ['100.64.0.0/16', /not a private network/],
      ['10.0.5.0/24', /overlaps the host route 10\.0\.0\.0\/16 \(dev eth0\)/, /--subnet 192\.168\.64\.0\/24/],
      ['172.16.0.0/12', /outside/],
      ['172.17.128.0/24', /overlaps the host route 172\.17\.0\.0\/16/],
    ]
    for (const [subnet, message, fix] of bad) {
      it(`rejects ${subnet}`, () => {
        const error = expectOnlyError({network: 'bridged', subnet}, '--subnet', message)
        if (fix) expect(error.fix).to.match(fix)
      })
    }
    it('rejects a subnet containing a narrower host route, and suggests a free one', () => {
      const f = facts({}, {routes: [{dst: '192.168.64.5/32', dev: 'wg0'}, {dst: '192.168.65.0/24', dev: 'br1'}]})
      const error = expectOnlyError({network: 'bridged'}, '--subnet', /overlaps the host route 192\.168\.64\.5\/32/, f)
      expect(error.fix).to.contain('192.168.66.0/24')
    })
    it('ignores the default route', () => {
      expect(optionsFor({subnet: '172.20.0.0/16'}).subnet).to.equal('172.20.0.0/16')
    })
  })

  describe('--docker-socket', () => {
    it('rejects a relative path, an overlong path, an existing socket and an existing file', () => {
      expectOnlyError({dockerSocket: 'docker.sock'}, '--docker-socket', /not an absolute path/)
      expectOnlyError({dockerSocket: `/tmp/${'x'.repeat(120)}.sock`}, '--docker-socket', /longer than a unix socket path/)
      expectOnlyError({dockerSocket: '/var/run/docker.sock'}, '--docker-socket', /already exists/, facts({'/var/run/docker.sock': {kind: 'socket'}}))
      expectOnlyError({dockerSocket: '/home/ann/notes.txt'}, '--docker-socket', /not a socket/)
    })
    it('rejects a directory that cannot be created: under a file, or not writable', () => {
      expectOnlyError({dockerSocket: '/home/ann/notes.txt/d/docker.sock'}, '--docker-socket', /notes\.txt is not a directory/)
      const readOnly = facts({'/var/run': {kind: 'directory', writable: false}})
      const error = expectOnlyError({network: 'bridged'}, '--docker-socket', /\/var\/run is not writable/, readOnly)
      expect(error.fix).to.match(/a directory you can write/)
    })
    it('accepts a socket whose directories do not exist yet under a writable one', () => {
      expect(optionsFor({dockerSocket: '/home/ann/a/b/docker.sock'}).dockerSocket).to.equal('/home/ann/a/b/docker.sock')
    })
    it('defaults into the home on macOS', () => {
      const mac = facts({}, {platform: 'darwin'})
      expect(optionsFor({accel: 'hvf'}, mac).dockerSocket).to.equal('/home/ann/.dlite/docker.sock')
    })
  })

  describe('--network', () => {
    it('defaults to user: the socket in the dlite home, and a subnet that a host route overlaps does not matter (no bridge)', () => {
      const options = optionsFor({subnet: '10.0.5.0/24'}, facts({}, {dliteHome: '/home/ann/.dlite-work', isRoot: false}))
      expect(options).to.include({network: 'user', dockerSocket: '/home/ann/.dlite-work/docker.sock', subnet: '10.0.5.0/24'})
    })
    it('still refuses a malformed subnet in user mode', () => {
      expectOnlyError({subnet: '8.8.8.0/24'}, '--subnet', /not a private network/)
    })
    it('bridged keeps DLite\'s /var/run/dlite socket on Linux', () => {
      expect(optionsFor({network: 'bridged'}, facts({}, {isRoot: true})).dockerSocket).to.equal('/var/run/dlite/docker.sock')
    })
    it('refuses a user-mode install under sudo (root would own the home), naming both ways out', () => {
      const error = expectOnlyError({}, '--network', /runs as you/, facts({}, {isRoot: true, underSudo: true}))
      expect(error.fix).to.contain('without sudo').and.contain('--network bridged')
      // a bridged VM of a user's runs as that user too: root's part is `network setup`, not install
      const bridged = expectOnlyError({network: 'bridged'}, '--network', /runs as you too/, facts({}, {isRoot: true, underSudo: true}))
      expect(bridged.fix).to.contain('sudo dlite network setup').and.contain('without sudo')
    })
    it('a user\'s bridged install needs the home registered with the root helper, and takes its network and name', () => {
      const error = expectOnlyError({network: 'bridged'}, '--network', /not registered with the root helper/, facts({}, {isRoot: false}))
      expect(error.fix).to.contain('sudo dlite network setup')
      const registered = facts({}, {isRoot: false, dliteHome: '/home/ann/.dlite', helperRegistration: {subnet: '192.168.100.0/24', hostname: 'dev.docker'}})
      expect(optionsFor({network: 'bridged'}, registered)).to.include({network: 'bridged', subnet: '192.168.100.0/24', hostname: 'dev.docker', dockerSocket: '/home/ann/.dlite/docker.sock'})
      expect(optionsFor({network: 'bridged', subnet: '192.168.100.0/24'}, registered).subnet).to.equal('192.168.100.0/24')
      const other = expectOnlyError({network: 'bridged', subnet: '192.168.99.0/24'}, '--subnet', /registered for subnet 192\.168\.100\.0\/24, not 192\.168\.99\.0\/24/, registered)
      expect(other.fix).to.contain('sudo dlite network setup --subnet 192.168.99.0/24')
    })
    it('refuses an unknown mode and bridged off Linux', () => {
      expectOnlyError({network: 'wifi'}, '--network', /not a network mode/)
      expectOnlyError({network: 'bridged'}, '--network', /Linux only \(got freebsd\)/, facts({}, {platform: 'freebsd', isRoot: true}))
    })
    // macOS is not this machine: its facts are invented, socket_vmnet's (installed or not) among them
    const noVmnet = {binary: '/opt/homebrew/opt/socket_vmnet/bin/socket_vmnet', binaryExists: false, socket: '/opt/homebrew/var/run/socket_vmnet', socketExists: false}
    const vmnet = {...noVmnet, binaryExists: true}
    const mac = (overrides: Partial<InstallHostFacts>) => facts({}, {platform: 'darwin', homebrewPrefix: '/opt/homebrew', routes: [{dst: '0.0.0.0/0', dev: 'en0'}, {dst: '192.168.1.0/24', dev: 'en0'}], ...overrides})
    it('on macOS refuses bridged without socket_vmnet, naming brew install, its root start and the user network', () => {
      for (const f of [mac({isRoot: true}), mac({isRoot: false, helperRegistration: {subnet: '192.168.105.0/24', hostname: 'local.docker'}}), mac({isRoot: true, socketVmnet: noVmnet})]) {
        const error = expectOnlyError({network: 'bridged', accel: 'hvf'}, '--network', /through socket_vmnet, and \/opt\/homebrew\/opt\/socket_vmnet\/bin\/socket_vmnet is not there/, f)
        expect(error.fix).to.contain('brew install socket_vmnet').and.contain('sudo /opt/homebrew/bin/brew services start socket_vmnet').and.contain('network=user, the default')
      }
      expect(optionsFor({accel: 'hvf'}, mac({})).network).to.equal('user')
      expect(optionsFor({network: 'user'}, mac({})).network).to.equal('user')
    })
    it('on macOS takes bridged with socket_vmnet installed, on its network 192.168.105.0/24 unless told otherwise', () => {
      // running or not: `dlite start` says how to start it
      const registered = mac({isRoot: false, socketVmnet: vmnet, dliteHome: '/Users/ann/.dlite', helperRegistration: {subnet: '192.168.105.0/24', hostname: 'local.docker'}})
      expect(optionsFor({network: 'bridged', accel: 'hvf'}, registered)).to.include({network: 'bridged', subnet: '192.168.105.0/24', hostname: 'local.docker', dockerSocket: '/Users/ann/.dlite/docker.sock'})
      // root's own, on the vmnet bridge's route that socket_vmnet made: that route is its network, no clash
      const own = mac({isRoot: true, socketVmnet: {...vmnet, socketExists: true}, routes: [{dst: '0.0.0.0/0', dev: 'en0'}, {dst: '192.168.1.0/24', dev: 'en0'}, {dst: '192.168.105.0/24', dev: 'bridge100'}]})
      expect(optionsFor({network: 'bridged'}, own)).to.include({network: 'bridged', subnet: '192.168.105.0/24'})
      expect(optionsFor({network: 'bridged', subnet: '192.168.106.0/24'}, own).subnet).to.equal('192.168.106.0/24')
      // a route of the Mac's own LAN still clashes
      expectOnlyError({network: 'bridged', subnet: '192.168.1.0/24'}, '--subnet', /overlaps the host route 192\.168\.1\.0\/24 \(dev en0\)/, own)
      // a user's VM without a registration: root's part on a Mac is the hosts line and the routes
      const unregistered = expectOnlyError({network: 'bridged'}, '--network', /its hosts line and routes written by root/, mac({isRoot: false, socketVmnet: vmnet}))
      expect(unregistered.fix).to.contain('sudo dlite network setup')
      // user mode keeps socket_vmnet's network for a later switch to bridged
      expect(optionsFor({}, mac({})).subnet).to.equal('192.168.105.0/24')
    })
  })

  describe('--accel', () => {
    it('rejects unknown accelerators and ones of another platform', () => {
      expectOnlyError({accel: 'xen'}, '--accel', /not an accelerator/)
      expectOnlyError({accel: 'hvf'}, '--accel', /only on macOS/)
      expectOnlyError({accel: 'kvm'}, '--accel', /only on Linux/, facts({}, {platform: 'darwin'}))
    })
  })
})

describe('flag values that no flag takes', () => {
  it('refuses empty values instead of quietly using the default, and says how to get the default', () => {
    for (const [field, flag] of [['cpus', '--cpus'], ['memory', '--memory'], ['disk', '--disk'], ['hostname', '--hostname'], ['mounts', '--mount'],
      ['os', '--os'], ['subnet', '--subnet'], ['dockerSocket', '--docker-socket'], ['accel', '--accel'], ['network', '--network']] as const) {
      const error = expectOnlyError({[field]: ''}, flag, /empty/)
      expect(error.fix, flag).to.match(/leave .* out/)
    }
    expect(expectOnlyError({sshKey: ''}, '--ssh-key', /empty/).fix).to.contain('--ssh-key none')
    expect(expectOnlyError({extra: ''}, '--extra', /empty/).fix).to.contain('leave --extra out')
    expectOnlyError({hostname: '   '}, '--hostname', /empty/)
  })

  it('refuses whitespace around a value, showing it without', () => {
    expect(expectOnlyError({cpus: ' 2'}, '--cpus', /whitespace/).fix).to.equal('drop it: --cpus 2')
    expectOnlyError({subnet: '192.168.64.0/24 '}, '--subnet', /whitespace/)
    expectOnlyError({mounts: '/home/ann '}, '--mount', /whitespace/)
    // --extra is split like a shell line: whitespace around its words is only whitespace
    expect(optionsFor({extra: '  --debug  '}).extraArgs).to.deep.equal(['--debug'])
  })

  it('refuses control characters anywhere, shown escaped', () => {
    const cases: [keyof InstallInput, string, string][] = [
      ['hostname', 'local.docker\n', '--hostname'], ['hostname', '\u001b[31mred', '--hostname'], ['mounts', '/home/ann\t', '--mount'],
      ['dockerSocket', '/tmp/d\u007f.sock', '--docker-socket'], ['subnet', '192.168.64.0/24\n', '--subnet'], ['sshKey', '/k\u0085.pub', '--ssh-key'],
      ['extra', '--label "a\tb"', '--extra'], ['extra', '--debug\n--tls', '--extra'], ['os', '/srv/os/manifest.json\r', '--os'], ['memory', '2\n', '--memory'],
    ]
    for (const [field, value, flag] of cases) {
      const error = expectOnlyError({[field]: value}, flag, /contains the control character/)
      expect(error.message, flag).not.to.match(/[\u0000-\u001f\u007f-\u009f]/)
    }
    expect(checkFlagText('--hostname', 'a\u001bb')).to.deep.include({ok: false})
    expect(checkFlagText('--hostname', 'dev.docker')).to.deep.equal({ok: true, value: 'dev.docker'})
  })

  it('calls huge numbers out of range, not "not a number"', () => {
    expectOnlyError({cpus: '99999999999999999999'}, '--cpus', /99999999999999999999 CPUs is outside 1\.\.8/)
    expectOnlyError({disk: '1000000000000'}, '--disk', /more than 65536/)
  })
})

describe('DLITE_HOME', () => {
  const home = (extra: Record<string, FakeEntry> = {}, overrides: Partial<InstallHostFacts> = {}) =>
    checkHome(facts(extra, overrides))

  it('accepts a new path, an empty directory and an install (which --force replaces)', () => {
    expect(home({}, {dliteHome: '/home/ann/.dlite'})).to.deep.equal({ok: true, value: '/home/ann/.dlite'})
    expect(home({}, {dliteHome: '/home/ann/a/b/.dlite'})).to.deep.include({ok: true})
    const empty = facts({'/home/ann/empty': {kind: 'directory'}}, {dliteHome: '/home/ann/empty'})
    expect(checkHome({...empty, fs: {...empty.fs, isEmptyDirectory: () => true}})).to.deep.include({ok: true})
    const installed = facts({'/home/ann/.dlite': {kind: 'directory'}, '/home/ann/.dlite/config.json': {kind: 'file'}}, {dliteHome: '/home/ann/.dlite'})
    expect(checkHome({...installed, fs: {...installed.fs, isEmptyDirectory: () => false}})).to.deep.include({ok: true})
  })

  it('refuses a file, a directory of other files, a path under a file and an unwritable parent', () => {
    const fail = (f: InstallHostFacts, message: RegExp) => {
      const result = checkHome(f)
      expect(result.ok).to.equal(false)
      const {error} = result as {ok: false; error: {flag: string; message: string; fix: string}}
      expect(error.flag).to.equal('DLITE_HOME')
      expect(error.message).to.match(message)
      expect(error.fix).to.match(/set DLITE_HOME/)
    }
    fail(facts({}, {dliteHome: '/home/ann/notes.txt'}), /not a directory/)
    const mine = facts({'/home/ann/work': {kind: 'directory'}}, {dliteHome: '/home/ann/work'})
    fail({...mine, fs: {...mine.fs, isEmptyDirectory: () => false}}, /no dlite install/)
    fail(facts({}, {dliteHome: '/home/ann/notes.txt/h'}), /notes\.txt is not a directory/)
    fail(facts({'/home/ann': {kind: 'directory', writable: false}}, {dliteHome: '/home/ann/.dlite'}), /not writable/)
    fail(facts({}, {dliteHome: '/home/ann/\n'}), /control character/)
  })

  it('refuses a home whose sockets would not fit a unix socket path, saying how long it may be', () => {
    const result = home({}, {dliteHome: `/home/ann/${'h'.repeat(80)}`})
    expect(result).to.deep.include({ok: false})
    const {error} = result as {ok: false; error: {message: string; fix: string}}
    expect(error.message).to.match(/guest-control\.sock.*107 bytes/)
    expect(error.fix).to.contain('at most 84 bytes')
    expect(home({}, {dliteHome: `/home/ann/${'h'.repeat(74)}`})).to.deep.include({ok: true})
  })

  it('is reported by validateInstallOptions, without repeating it for the socket defaulted into it', () => {
    const errors = errorsFor({}, facts({}, {dliteHome: `/home/ann/${'h'.repeat(200)}`}))
    expect(errors.map((e) => e.flag)).to.deep.equal(['DLITE_HOME'])
  })
})

describe('--os of update', () => {
  const f = facts()
  it('takes what install takes, normalized', () => {
    expect(checkOsFlag('/srv/os/manifest.json', f)).to.deep.equal({ok: true, value: '/srv/os/manifest.json'})
    expect(checkOsFlag('file:///srv/os/manifest.json', f)).to.deep.equal({ok: true, value: '/srv/os/manifest.json'})
    expect(checkOsFlag('https://example.test/m.json', f)).to.deep.equal({ok: true, value: 'https://example.test/m.json'})
  })
  it('refuses what install refuses, with no default to fall back on', () => {
    for (const [raw, message] of [['', /empty/], ['/srv/nope.json', /does not exist/], ['/srv/os', /not a file/], ['ftp://x/m.json', /unsupported URL scheme/], ['http://x.example/m.json', /use https:\/\//],
      ['/srv/os/manifest.json\n', /control character/]] as const) {
      const result = checkOsFlag(raw, f)
      expect(result, raw).to.deep.include({ok: false})
      expect((result as {ok: false; error: {flag: string; message: string}}).error).to.deep.include({flag: '--os'})
      expect((result as {ok: false; error: {message: string}}).error.message).to.match(message)
    }
  })
})

describe('shell-like splitting', () => {
  it('handles quotes, escapes and whitespace like a shell', () => {
    expect(splitShellWords(`  a  "b c" 'd "e"' f\\ g "h\\"i" '' x""y  `)).to.deep.equal(['a', 'b c', 'd "e"', 'f g', 'h"i', '', 'xy'])
    expect(splitShellWords('')).to.deep.equal([])
  })
})

describe('host routes', () => {
  it('reads through ip, and falls back to /proc/net/route when ip is missing (fake runner: no real routes)', async () => {
    const viaIp = await readHostRoutes({runner: async () => ({code: 0, stdout: '[{"dst":"10.1.0.0/16","dev":"x"}]', stderr: ''}), readText: async () => expect.fail('not read')})
    expect(viaIp).to.deep.equal([{dst: '10.1.0.0/16', dev: 'x'}])
    const viaProc = await readHostRoutes({
      runner: async () => ({code: 127, stdout: '', stderr: 'not found'}),
      readText: async (path) => {
        expect(path).to.equal('/proc/net/route')
        return 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\neth1\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\n'
      },
    })
    expect(viaProc).to.deep.equal([{dst: '10.0.0.0/8', dev: 'eth1'}])
  })
})
