// The /var/run/docker.sock link, in a directory of the test's own: made atomically and only by root in a
// root-owned directory, never over a docker engine's socket, over another link only when forced; removed only
// when it is dlite's; a tmpfiles.d entry makes it again at boot. The attacks: a user-writable directory (the
// link could be swapped), a target that would inject a second tmpfiles line, a socket dlite did not make.
import {expect} from 'chai'
import {chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {linkSystemSocket, systemSocketState, unlinkSystemSocket} from '../../src/lifecycle/system-socket.js'

describe('system docker socket link', function () {
  let dir: string
  let paths: {path: string; tmpfilesEntry: string}
  const target = '/home/ann/.dlite/docker.sock'

  before(function () {
    if (process.getuid?.() !== 0) this.skip() // the checks are about root-owned directories
  })
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-system-socket-'))
    chmodSync(dir, 0o755)
    mkdirSync(join(dir, 'run'), {mode: 0o755})
    mkdirSync(join(dir, 'tmpfiles.d'), {mode: 0o755})
    symlinkSync('run', join(dir, 'var-run'))
    paths = {path: join(dir, 'var-run', 'docker.sock'), tmpfilesEntry: join(dir, 'tmpfiles.d', 'dlite-docker-sock.conf')}
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('links, with a boot entry for the canonical path; again is no change; unlink removes both', () => {
    const made = linkSystemSocket(target, paths)
    expect(made.changed).to.equal(true)
    expect(readlinkSync(paths.path)).to.equal(target)
    expect(made.state).to.include({kind: 'ours', persistent: true})
    expect(readFileSync(paths.tmpfilesEntry, 'utf8').split('\n')[1]).to.equal(`L ${join(dir, 'run', 'docker.sock')} - - - - ${target}`)
    expect(linkSystemSocket(target, paths).changed).to.equal(false)
    const removed = unlinkSystemSocket(target, paths)
    expect(removed.changed).to.equal(true)
    expect(removed.state).to.include({kind: 'absent', persistent: false})
    expect(existsSync(paths.tmpfilesEntry)).to.equal(false)
    expect(unlinkSystemSocket(target, paths).changed).to.equal(false)
  })

  it('never replaces a docker engine\'s socket, even with --force, and leaves it as it was', async () => {
    const server: Server = createServer()
    await new Promise<void>((resolve) => server.listen(paths.path, resolve))
    try {
      for (const force of [false, true]) expect(() => linkSystemSocket(target, {...paths, force})).to.throw(/a socket of another docker engine; dlite does not replace it/)
      expect(systemSocketState(target, paths).kind).to.equal('socket')
      expect(() => unlinkSystemSocket(target, paths)).to.throw(/not dlite's link/)
      expect(existsSync(paths.tmpfilesEntry)).to.equal(false)
    } finally {
      server.close()
    }
  })

  it('replaces a link that leads elsewhere only with --force, and unlink leaves another\'s link alone', () => {
    symlinkSync('/home/bob/.colima/docker.sock', paths.path)
    expect(() => linkSystemSocket(target, paths)).to.throw(/already leads to \/home\/bob\/.colima\/docker.sock.*/)
    expect(() => unlinkSystemSocket(target, paths)).to.throw(/it leads to \/home\/bob/)
    expect(readlinkSync(paths.path)).to.equal('/home/bob/.colima/docker.sock')
    const forced = linkSystemSocket(target, {...paths, force: true})
    expect(forced.replaced).to.equal('/home/bob/.colima/docker.sock')
    expect(readlinkSync(paths.path)).to.equal(target)
  })

  it('refuses a directory its user could change (the link could be swapped under root)', () => {
    chownSync(join(dir, 'run'), 65534, 65534)
    expect(() => linkSystemSocket(target, paths)).to.throw(/is not a directory only root can change \(owner 65534/)
    chownSync(join(dir, 'run'), 0, 0)
    chmodSync(join(dir, 'run'), 0o777)
    expect(() => linkSystemSocket(target, paths)).to.throw(/mode 777/)
    expect(existsSync(paths.path)).to.equal(false)
  })

  it('refuses a target that would add a line or a field to the boot entry', () => {
    for (const bad of ['/home/ann/a b/docker.sock', '/home/ann/x\nL /etc/shadow - - - - /tmp/x', 'relative.sock', '/home/ann/back\\slash']) {
      expect(() => linkSystemSocket(bad, paths), bad).to.throw(/cannot be linked/)
    }
    expect(existsSync(paths.path)).to.equal(false)
    expect(existsSync(paths.tmpfilesEntry)).to.equal(false)
  })

  it('reads a boot entry only when it is dlite\'s own', () => {
    writeFileSync(paths.tmpfilesEntry, `L ${paths.path} - - - - ${target}\n`)
    expect(systemSocketState(target, paths).persistent).to.equal(false)
  })

  it('leaves no temporary name behind when it fails', () => {
    symlinkSync('/elsewhere', paths.path)
    expect(() => linkSystemSocket(target, paths)).to.throw()
    expect(readdirSync(join(dir, 'run'))).to.deep.equal(['docker.sock'])
  })
})
