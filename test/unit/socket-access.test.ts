// A root daemon's socket sits in a directory the user controls: the attempt here is a link put in its place
// before the daemon opens it to a group.
import {expect} from 'chai'
import {chownSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {restrictSocket} from '../../src/daemon/socket-access.js'

describe('socket access', () => {
  let dir: string
  let server: Server | undefined
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-sock-'))
  })
  afterEach(async () => {
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()))
    server = undefined
    rmSync(dir, {recursive: true, force: true})
  })

  async function listen(path: string): Promise<void> {
    server = createServer()
    await new Promise<void>((resolve) => server!.listen(path, () => resolve()))
  }

  it('sets 0600 for the owner alone, or 0660 and the group given', async () => {
    const path = join(dir, 'control.sock')
    await listen(path)
    restrictSocket(path)
    expect(statSync(path).mode & 0o777).to.equal(0o600)
    restrictSocket(path, 65534)
    expect(statSync(path).mode & 0o777).to.equal(0o660)
    expect(statSync(path).gid).to.equal(65534)
  })

  it('a link put where the socket was is refused, and what it points to keeps its owner and mode', async function () {
    if (process.platform !== 'linux') this.skip()
    const path = join(dir, 'control.sock')
    await listen(path)
    const precious = join(dir, 'shadow')
    writeFileSync(precious, 'secret', {mode: 0o600})
    renameSync(path, join(dir, 'moved.sock'))
    symlinkSync(precious, path)
    expect(() => restrictSocket(path, 65534)).to.throw(/ELOOP|not the socket/)
    expect(statSync(precious).mode & 0o777).to.equal(0o600)
    expect(statSync(precious).gid).to.not.equal(65534)
  })

  it('a file or another user\'s socket put there is refused too', async function () {
    if (process.platform !== 'linux') this.skip()
    const file = join(dir, 'control.sock')
    writeFileSync(file, '', {mode: 0o600})
    expect(() => restrictSocket(file)).to.throw(/not the socket/)
    if (process.getuid?.() !== 0) return // a socket of another uid needs root to make
    rmSync(file)
    await listen(file)
    chownSync(file, 65534, 65534)
    expect(() => restrictSocket(file, 0)).to.throw(/not the socket/)
    expect(statSync(file).uid).to.equal(65534)
  })
})
