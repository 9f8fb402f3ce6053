import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {
  addHostsEntry,
  hostsConflicts,
  hostsLine,
  removeHostsEntry,
  withHostsEntry,
  withoutHostsEntry,
} from '../../src/network/hosts-file.js'

const A = {ip: '192.168.64.2', hostname: 'local.docker', homeId: 'aaaaaa'}
const B = {ip: '192.168.65.2', hostname: 'b.docker', homeId: 'bbbbbb'}

// Everything here works on files in a temp dir; the real /etc/hosts is never touched.
describe('hosts file editing', () => {
  describe('pure edits', () => {
    const original = '127.0.0.1\tlocalhost\r\n# a comment with é and \u00ff\n::1 localhost ip6-localhost\n10.0.0.5 nas  # keep   spacing'

    it('appends the line, adding the missing final newline and changing nothing else', () => {
      const out = withHostsEntry(original, A)
      expect(out).to.equal(`${original}\n192.168.64.2 local.docker # added by dlite aaaaaa\n`)
    })

    it('is idempotent, and replaces its own line in place when the address changes', () => {
      const once = withHostsEntry(original + '\n', A)
      expect(withHostsEntry(once, A)).to.equal(once)
      const moved = withHostsEntry(once + '1.2.3.4 after\n', {...A, ip: '192.168.64.9'})
      expect(moved).to.equal(`${original}\n192.168.64.9 local.docker # added by dlite aaaaaa\n1.2.3.4 after\n`)
    })

    it('collapses duplicate lines of the same home and keeps a CRLF terminator', () => {
      const dup = `x y\r\n${hostsLine(A)}\r\nz w\n${hostsLine(A)}\n`
      expect(withHostsEntry(dup, {...A, ip: '192.168.64.3'})).to.equal('x y\r\n192.168.64.3 local.docker # added by dlite aaaaaa\r\nz w\n')
    })

    it('keeps two homes apart and removes only its own', () => {
      const both = withHostsEntry(withHostsEntry(original, A), B)
      expect(both.split('added by dlite')).to.have.length(3)
      expect(withoutHostsEntry(both, 'aaaaaa')).to.equal(withHostsEntry(original, B))
      expect(withoutHostsEntry(withoutHostsEntry(both, 'aaaaaa'), 'bbbbbb')).to.equal(`${original}\n`)
    })

    it('leaves lines it did not write: commented-out ones, other ids, DLite-style lines without an id', () => {
      const text = `#${hostsLine(A)}\n1.1.1.1 x # added by dlite aaaaaab\n192.168.64.2 local.docker # added by dlite\n`
      expect(withoutHostsEntry(text, 'aaaaaa')).to.equal(text)
    })

    it('reports other lines that map the same name', () => {
      const text = `10.0.0.7 other LOCAL.docker # mine\n${hostsLine(A)}\n`
      expect(hostsConflicts(text, A)).to.deep.equal(['10.0.0.7 other LOCAL.docker # mine'])
    })

    it('refuses entries that would inject text into the file', () => {
      expect(() => hostsLine({...A, hostname: 'a\n1.2.3.4 evil'})).to.throw(/not a hostname/)
      expect(() => hostsLine({...A, hostname: 'a b'})).to.throw(/not a hostname/)
      expect(() => hostsLine({...A, ip: '192.168.64.2 x'})).to.throw(/not an IPv4/)
      expect(() => hostsLine({...A, homeId: 'a b'})).to.throw(/bad home id/)
    })
  })

  describe('on disk', () => {
    let dir: string
    let hosts: string
    const original = Buffer.concat([Buffer.from('127.0.0.1 localhost\n# bytes: '), Buffer.from([0xe9, 0xff, 0x00, 0x80]), Buffer.from('\n')])
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'dlite-hosts-'))
      hosts = join(dir, 'hosts')
      writeFileSync(hosts, original, {mode: 0o644})
      chmodSync(hosts, 0o640)
    })
    afterEach(() => rmSync(dir, {recursive: true, force: true}))

    const files = () => readdirSync(dir).sort()

    it('adds and removes by rename, preserving every other byte and the mode', async () => {
      const inode = statSync(hosts).ino
      expect(await addHostsEntry(hosts, A)).to.deep.equal({changed: true, conflicts: []})
      const added = readFileSync(hosts)
      expect(added.subarray(0, original.length).equals(original)).to.equal(true)
      expect(added.subarray(original.length).toString()).to.equal(`${hostsLine(A)}\n`)
      expect(statSync(hosts).ino).to.not.equal(inode) // replaced, not rewritten
      expect(statSync(hosts).mode & 0o777).to.equal(0o640)
      expect(await removeHostsEntry(hosts, A.homeId)).to.deep.equal({changed: true, conflicts: []})
      expect(readFileSync(hosts).equals(original)).to.equal(true)
      expect(files()).to.deep.equal(['hosts'])
    })

    it('writes nothing when the entry is already there', async () => {
      await addHostsEntry(hosts, A)
      utimesSync(hosts, new Date(1000), new Date(1000))
      expect((await addHostsEntry(hosts, A)).changed).to.equal(false)
      expect((await removeHostsEntry(hosts, B.homeId)).changed).to.equal(false)
      expect(statSync(hosts).mtimeMs).to.equal(1000)
    })

    it('falls back to rewriting in place when rename fails with EBUSY (simulated bind mount)', async () => {
      const inode = statSync(hosts).ino
      const ebusy = async () => {
        throw Object.assign(new Error('EBUSY: resource busy or locked, rename'), {code: 'EBUSY'})
      }
      await addHostsEntry(hosts, A, {rename: ebusy})
      await addHostsEntry(hosts, B, {rename: ebusy})
      expect(statSync(hosts).ino).to.equal(inode)
      expect(readFileSync(hosts).toString('latin1')).to.equal(`${original.toString('latin1')}${hostsLine(A)}\n${hostsLine(B)}\n`)
      await removeHostsEntry(hosts, A.homeId, {rename: ebusy})
      await removeHostsEntry(hosts, B.homeId, {rename: ebusy})
      expect(readFileSync(hosts).equals(original)).to.equal(true) // shorter content: truncated, no stale tail
      expect(statSync(hosts).ino).to.equal(inode)
      expect(files()).to.deep.equal(['hosts'])
    })

    it('on any other rename error changes nothing and says why', async () => {
      const eacces = async () => {
        throw Object.assign(new Error('EACCES: permission denied, rename'), {code: 'EACCES'})
      }
      let caught: unknown
      await addHostsEntry(hosts, A, {rename: eacces}).catch((error: unknown) => (caught = error))
      expect(String(caught)).to.match(/EACCES/)
      expect(readFileSync(hosts).equals(original)).to.equal(true)
      expect(files()).to.deep.equal(['hosts'])
    })

    it('rewrites in place when its directory is read-only but the file is writable (as in some containers)', async function () {
      if (process.getuid?.() === 0) this.skip() // root ignores directory permissions: covered by the bind-mount test instead
      chmodSync(dir, 0o555)
      try {
        await addHostsEntry(hosts, A)
        expect(readFileSync(hosts, 'latin1')).to.equal(`${original.toString('latin1')}${hostsLine(A)}\n`)
      } finally {
        chmodSync(dir, 0o755)
      }
    })

    it('edits the target of a symlinked hosts file and keeps the link', async () => {
      const link = join(dir, 'link')
      symlinkSync(hosts, link)
      await addHostsEntry(link, A)
      expect(statSync(link).isFile()).to.equal(true)
      expect(readFileSync(hosts, 'latin1')).to.contain(hostsLine(A))
      expect(readdirSync(dir).sort()).to.deep.equal(['hosts', 'link'])
    })

    it('creates a missing file', async () => {
      rmSync(hosts)
      await addHostsEntry(hosts, A)
      expect(readFileSync(hosts, 'utf8')).to.equal(`${hostsLine(A)}\n`)
    })

    it('waits for a held lock, and breaks a stale one', async () => {
      writeFileSync(`${hosts}.dlite-lock`, '1\n')
      let caught: unknown
      await addHostsEntry(hosts, A, {lockTimeoutMs: 200}).catch((error: unknown) => (caught = error))
      expect(String(caught)).to.match(/locked by another dlite/)
      expect(readFileSync(hosts).equals(original)).to.equal(true)
      const old = new Date(Date.now() - 60_000)
      utimesSync(`${hosts}.dlite-lock`, old, old)
      expect((await addHostsEntry(hosts, A, {lockTimeoutMs: 200})).changed).to.equal(true)
      expect(files()).to.deep.equal(['hosts'])
    })

    it('serializes concurrent edits from several homes without losing any', async () => {
      const entries = Array.from({length: 8}, (_, i) => ({ip: `10.9.${i}.2`, hostname: `h${i}.docker`, homeId: `home${i}`}))
      await Promise.all(entries.map((entry) => addHostsEntry(hosts, entry)))
      const text = readFileSync(hosts, 'latin1')
      for (const entry of entries) expect(text).to.contain(hostsLine(entry))
    })

    /** Runs addHostsEntry(hostsPath, A) in a child with a private mount namespace prepared by `setup` (sh). */
    function addInMountNamespace(setup: string, hostsPath: string, ...args: string[]) {
      const repo = fileURLToPath(new URL('../..', import.meta.url))
      const moduleUrl = new URL('src/network/hosts-file.ts', `file://${repo}`).href
      const script = join(dir, 'edit.mts')
      writeFileSync(script, `import {addHostsEntry} from '${moduleUrl}'\nawait addHostsEntry(process.argv[2], ${JSON.stringify(A)})\n`)
      // `unshare --mount` gives the child its own mount table: the mounts are invisible to the rest of the
      // machine and vanish with the child.
      const result = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
        `${setup} && exec "$0" --import tsx "${script}" "${hostsPath}"`, process.execPath, ...args], {encoding: 'utf8', timeout: 30_000, cwd: repo})
      expect(result.status, result.stderr).to.equal(0)
      rmSync(script)
    }

    it('copes with a real bind-mounted file (EBUSY from the kernel) in a private mount namespace', function () {
      if (process.getuid?.() !== 0) this.skip() // mounting needs root
      const source = join(dir, 'netns-hosts')
      writeFileSync(source, '127.0.0.1 localhost\n')
      addInMountNamespace(`mount --bind "${source}" "${hosts}"`, hosts)
      expect(readFileSync(source, 'utf8')).to.equal(`127.0.0.1 localhost\n${hostsLine(A)}\n`)
      expect(readFileSync(hosts).equals(original)).to.equal(true) // the mount point's own file was never touched
      expect(files()).to.deep.equal(['hosts', 'netns-hosts'])
    })

    it('copes with a container layout: read-only directory, writable bind-mounted hosts file', function () {
      if (process.getuid?.() !== 0) this.skip() // mounting needs root
      const etc = join(dir, 'etc')
      mkdirSync(etc)
      writeFileSync(join(etc, 'hosts'), 'image hosts\n')
      const source = join(dir, 'container-hosts')
      writeFileSync(source, '127.0.0.1 localhost\n')
      addInMountNamespace(`mount --bind "${etc}" "${etc}" && mount -o remount,bind,ro "${etc}" && mount --bind "${source}" "${etc}/hosts"`, join(etc, 'hosts'))
      expect(readFileSync(source, 'utf8')).to.equal(`127.0.0.1 localhost\n${hostsLine(A)}\n`)
      expect(readdirSync(etc)).to.deep.equal(['hosts']) // no lock or temp file could be (or was) left
    })
  })
})
