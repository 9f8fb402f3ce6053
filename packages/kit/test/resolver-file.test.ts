// Host resolver integration, on files in a temp dir only: the real /etc/resolver and /etc/systemd are never
// touched (DLITE_DNS_RESOLVER_DIR points elsewhere, and the host's facts are injected). macOS and
// systemd-resolved are not on this machine: their file formats and the reload command are checked here, the
// real resolvers are not exercised.
import {expect} from 'chai'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {
  MARKER, RESOLVER_DIR_ENV, chooseMode, installResolver, manualStep, readWritten, removeResolverFiles, resolverFile, type ResolverHost,
} from '../src/resolver-file.js'

describe('resolver files (temp dirs)', () => {
  let dir: string
  let stateDir: string
  let resolverDir: string
  let commands: string[][]
  let reloadCode: number
  let host: ResolverHost
  const address = {host: '192.168.64.1', port: 53}

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-dns-resolver-'))
    stateDir = join(dir, 'state')
    resolverDir = join(dir, 'resolver')
    commands = []
    reloadCode = 0
    host = {
      platform: 'darwin',
      env: {[RESOLVER_DIR_ENV]: resolverDir},
      exists: () => false,
      run: async (command, args) => {
        commands.push([command, ...args])
        return {code: reloadCode, stdout: '', stderr: reloadCode ? 'Failed to connect to bus' : ''}
      },
    }
  })

  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  describe('choosing how', () => {
    const linux = (files: string[]) => ({platform: 'linux' as const, exists: (p: string) => files.includes(p)})

    it('macOS uses /etc/resolver; Linux uses systemd-resolved when it runs, else the manual step', () => {
      expect(chooseMode('auto', {platform: 'darwin', exists: () => false})).to.equal('macos')
      expect(chooseMode('auto', linux(['/run/systemd/system', '/run/systemd/resolve/stub-resolv.conf']))).to.equal('systemd-resolved')
      expect(chooseMode('auto', linux(['/run/systemd/resolve/stub-resolv.conf']))).to.equal('manual') // resolved files but no systemd
      expect(chooseMode('auto', linux([]))).to.equal('manual')
      expect(chooseMode('auto', {platform: 'freebsd', exists: () => true})).to.equal('manual')
    })

    it('an explicit choice wins', () => {
      expect(chooseMode('manual', {platform: 'darwin', exists: () => false})).to.equal('manual')
      expect(chooseMode('systemd-resolved', linux([]))).to.equal('systemd-resolved')
    })

    it('the default places are /etc/resolver/<domain> and a resolved drop-in', () => {
      expect(resolverFile('macos', 'docker', address, {}).path).to.equal('/etc/resolver/docker')
      expect(resolverFile('systemd-resolved', 'docker', address, {}).path).to.equal('/etc/systemd/resolved.conf.d/dlite-docker.conf')
    })
  })

  describe('macOS /etc/resolver file', () => {
    it('writes nameserver and port under the marker, and records it', async () => {
      const outcome = await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
      const path = join(resolverDir, 'docker')
      expect(outcome).to.deep.include({mode: 'macos', files: [path]})
      const content = readFileSync(path, 'utf8')
      expect(content.startsWith(MARKER)).to.equal(true)
      expect(content.split('\n').slice(1)).to.deep.equal(['nameserver 192.168.64.1', 'port 53', ''])
      expect(readWritten(stateDir).map((f) => f.path)).to.deep.equal([path])
    })

    it('resolver(5) format: any port on a line of its own, an IPv6 nameserver bare (no brackets)', () => {
      expect(resolverFile('macos', 'docker', {host: '127.0.0.1', port: 5354}, {}).content.split('\n').slice(1)).to.deep.equal(['nameserver 127.0.0.1', 'port 5354', ''])
      expect(resolverFile('macos', 'docker', {host: 'fd00::1', port: 53}, {}).content.split('\n').slice(1)).to.deep.equal(['nameserver fd00::1', 'port 53', ''])
    })

    // macOS's caches cannot be flushed here: the runner records the commands root would run there
    describe('flushing macOS\'s DNS caches (recorded commands)', () => {
      const flush = [['/usr/bin/dscacheutil', '-flushcache'], ['/usr/bin/killall', '-HUP', 'mDNSResponder']]

      it('flushes after writing the file, and not when a rewrite changes nothing', async () => {
        const outcome = await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
        expect(commands).to.deep.equal(flush)
        expect(outcome.warning).to.equal(undefined)
        await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
        expect(commands).to.deep.equal(flush)
      })

      it('flushes after removing the file; nothing removed, nothing flushed', async () => {
        await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
        commands = []
        const removal = await removeResolverFiles(stateDir, host)
        expect(removal.removed).to.deep.equal([join(resolverDir, 'docker')])
        expect(commands).to.deep.equal(flush)
        expect(removal.warning).to.equal(undefined)
        commands = []
        await removeResolverFiles(stateDir, host)
        expect(commands).to.deep.equal([])
      })

      it('a changed domain (one file gone, one written) flushes once', async () => {
        await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
        commands = []
        await installResolver({stateDir, setting: 'auto', domain: 'dev.test', address, host})
        expect(commands).to.deep.equal(flush)
      })

      it('a flush that fails is a warning naming the fix: the file stays written (or removed)', async () => {
        reloadCode = 1
        const outcome = await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
        expect(outcome.files).to.deep.equal([join(resolverDir, 'docker')])
        expect(readFileSync(join(resolverDir, 'docker'), 'utf8').startsWith(MARKER)).to.equal(true)
        expect(outcome.warning).to.match(/^macOS's DNS cache was not flushed \(\/usr\/bin\/dscacheutil -flushcache: Failed to connect to bus; \/usr\/bin\/killall -HUP mDNSResponder: Failed to connect to bus\)/)
        expect(outcome.warning).to.contain('run `sudo dscacheutil -flushcache; sudo killall -HUP mDNSResponder`')
        const removal = await removeResolverFiles(stateDir, host)
        expect(removal.removed).to.deep.equal([join(resolverDir, 'docker')])
        expect(removal.warning).to.match(/DNS cache was not flushed/)
      })

      it('nothing is flushed off macOS, even for a macos-mode file', async () => {
        host.platform = 'linux'
        await installResolver({stateDir, setting: 'macos', domain: 'docker', address, host})
        await removeResolverFiles(stateDir, host)
        expect(commands).to.deep.equal([])
      })
    })

    it('is idempotent and leaves no temporary files', async () => {
      await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
      await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
      expect(readdirSync(resolverDir)).to.deep.equal(['docker'])
    })

    it('disable removes exactly what enable wrote, nothing else in the directory', async () => {
      mkdirSync(resolverDir, {recursive: true})
      writeFileSync(join(resolverDir, 'corp.example'), 'nameserver 10.0.0.1\n')
      await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
      const removal = await removeResolverFiles(stateDir, host)
      expect(removal.removed).to.deep.equal([join(resolverDir, 'docker')])
      expect(readdirSync(resolverDir)).to.deep.equal(['corp.example'])
      expect(readWritten(stateDir)).to.deep.equal([])
      expect((await removeResolverFiles(stateDir, host)).removed).to.deep.equal([]) // again: nothing to do
    })

    it('leaves a file it did not write alone, and says so', async () => {
      mkdirSync(resolverDir, {recursive: true})
      writeFileSync(join(resolverDir, 'docker'), 'nameserver 172.17.0.1\n') // e.g. from DLite's README
      const outcome = await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
      expect(outcome.files).to.deep.equal([])
      expect(outcome.warning).to.match(/remove or fix .*docker yourself/)
      expect(readFileSync(join(resolverDir, 'docker'), 'utf8')).to.equal('nameserver 172.17.0.1\n')
      expect((await removeResolverFiles(stateDir, host)).removed).to.deep.equal([])
      expect(readFileSync(join(resolverDir, 'docker'), 'utf8')).to.equal('nameserver 172.17.0.1\n')
    })

    it('does not take over a file another VM (another state dir) wrote for the same domain, nor remove it', async () => {
      await installResolver({stateDir: join(dir, 'other-vm'), setting: 'auto', domain: 'docker', address: {host: '192.168.70.1', port: 53}, host})
      const theirs = readFileSync(join(resolverDir, 'docker'), 'utf8')
      const outcome = await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
      expect(outcome.files).to.deep.equal([])
      expect(outcome.message).to.match(/for another dlite VM/)
      expect(readFileSync(join(resolverDir, 'docker'), 'utf8')).to.equal(theirs)
      expect((await removeResolverFiles(stateDir, host)).removed).to.deep.equal([])
      expect(readFileSync(join(resolverDir, 'docker'), 'utf8')).to.equal(theirs)
    })

    it('a changed domain replaces the old file', async () => {
      await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
      await installResolver({stateDir, setting: 'auto', domain: 'dev.test', address, host})
      expect(readdirSync(resolverDir)).to.deep.equal(['dev.test'])
      expect(readWritten(stateDir).map((f) => f.path)).to.deep.equal([join(resolverDir, 'dev.test')])
    })

    it('keeps a recorded file that someone changed (marker gone)', async () => {
      await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
      writeFileSync(join(resolverDir, 'docker'), 'nameserver 10.9.9.9\n')
      const removal = await removeResolverFiles(stateDir, host)
      expect(removal.removed).to.deep.equal([])
      expect(removal.kept.map((k) => k.path)).to.deep.equal([join(resolverDir, 'docker')])
    })

    it('never removes a recorded path outside the resolver directories, even one with the marker', async () => {
      const elsewhere = join(dir, 'elsewhere')
      writeFileSync(elsewhere, `${MARKER}\n`)
      mkdirSync(stateDir, {recursive: true})
      writeFileSync(join(stateDir, 'resolver-state.json'), JSON.stringify({files: [{path: elsewhere, mode: 'macos', content: ''}]}))
      const removal = await removeResolverFiles(stateDir, host)
      expect(removal.removed).to.deep.equal([])
      expect(readFileSync(elsewhere, 'utf8')).to.equal(`${MARKER}\n`)
    })
  })

  describe('systemd-resolved drop-in', () => {
    beforeEach(() => {
      host.platform = 'linux'
      host.exists = (p) => ['/run/systemd/system', '/run/systemd/resolve/stub-resolv.conf'].includes(p)
    })

    it('writes DNS= and Domains=~<domain>, then reloads resolved', async () => {
      const outcome = await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
      const path = join(resolverDir, 'dlite-docker.conf')
      expect(outcome).to.deep.include({mode: 'systemd-resolved', files: [path]})
      expect(readFileSync(path, 'utf8')).to.match(/^# added by dlite-dns.*\n\[Resolve\]\nDNS=192\.168\.64\.1\nDomains=~docker\n$/)
      expect(commands).to.deep.equal([['systemctl', 'try-reload-or-restart', 'systemd-resolved.service']])
    })

    it('does not reload when nothing changed; reloads after removing', async () => {
      await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
      await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
      expect(commands).to.have.length(1)
      const removal = await removeResolverFiles(stateDir, host)
      expect(removal.removed).to.deep.equal([join(resolverDir, 'dlite-docker.conf')])
      expect(commands).to.have.length(2)
    })

    it('a failed reload is a warning naming the fix, the file stays written', async () => {
      reloadCode = 1
      const outcome = await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
      expect(outcome.files).to.have.length(1)
      expect(outcome.warning).to.match(/sudo systemctl restart systemd-resolved/)
    })

    it('a port other than 53 is written as address:port', () => {
      expect(resolverFile('systemd-resolved', 'docker', {host: '127.0.0.1', port: 1053}, {}).content).to.contain('DNS=127.0.0.1:1053\n')
    })
  })

  describe('no resolver integration (manual)', () => {
    beforeEach(() => {
      host.platform = 'linux'
    })

    it('writes nothing and gives the manual step', async () => {
      const outcome = await installResolver({stateDir, setting: 'auto', domain: 'docker', address, host})
      expect(outcome).to.deep.include({mode: 'manual', files: []})
      expect(outcome.message).to.equal(manualStep('docker', address))
      expect(outcome.message).to.contain('server=/docker/192.168.64.1')
      expect(outcome.message).to.contain('nameserver 192.168.64.1')
      expect(() => readdirSync(resolverDir)).to.throw()
    })

    it('switching to manual removes a file written before', async () => {
      await installResolver({stateDir, setting: 'macos', domain: 'docker', address, host})
      expect(readdirSync(resolverDir)).to.deep.equal(['docker'])
      await installResolver({stateDir, setting: 'manual', domain: 'docker', address, host})
      expect(readdirSync(resolverDir)).to.deep.equal([])
    })
  })
})
