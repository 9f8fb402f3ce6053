// A saved VM state is resumed only when its record matches the VM about to load it; each mismatch is named, and
// a state without a finished record is never trusted. The stream between QEMU and the file keeps a size and a
// sha256 that a corrupted file cannot match.
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync} from 'node:fs'
import {connect, createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {
  diskIdentity, discardSavedState, prepareSavedStateDir, readSavedState, savedStateProblem, writeSavedStateRecord,
  type SavedStatePaths, type SavedStateRecord, type StateIdentity,
} from '../../src/vm/saved-state.js'
import {receiveState, sendState} from '../../src/vm/state-stream.js'

describe('saved state', () => {
  let dir: string
  let paths: SavedStatePaths
  let disk: string
  const identity: StateIdentity = {
    qemu: {path: '/usr/bin/qemu-system-x86_64', size: 100, mtimeMs: 1},
    argv: 'a'.repeat(64), settings: 'b'.repeat(64), imageVersion: '1.0.0', hostBoot: 'boot-1',
  }
  const stateBytes = Buffer.alloc(64 * 1024, 7)

  function save(): SavedStateRecord {
    prepareSavedStateDir(paths)
    writeFileSync(paths.state, stateBytes, {mode: 0o600})
    const record: SavedStateRecord = {
      format: 1, savedAt: 1, saveMs: 2, identity, dataDisk: diskIdentity(disk),
      state: {bytes: stateBytes.length, sha256: createHash('sha256').update(stateBytes).digest('hex')},
    }
    writeSavedStateRecord(paths, record)
    return record
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-state-'))
    paths = {state: join(dir, 'saved-state', 'vm.state'), record: join(dir, 'saved-state', 'vm.state.json')}
    disk = join(dir, 'disk.img')
    writeFileSync(disk, Buffer.alloc(2 * 1024 * 1024, 1))
  })

  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('a record that matches lets the state be resumed; the files are the user\'s alone', () => {
    const record = save()
    const read = readSavedState(paths)
    expect(read).to.deep.equal(record)
    expect(savedStateProblem(record, paths.state, identity, diskIdentity(disk))).to.equal(undefined)
    expect(statSync(paths.record).mode & 0o777).to.equal(0o600)
    expect(statSync(join(dir, 'saved-state')).mode & 0o777).to.equal(0o700)
  })

  it('names each way the VM differs from the one saved', () => {
    const record = save()
    const now = diskIdentity(disk)
    const problem = (changes: Partial<StateIdentity>) => savedStateProblem(record, paths.state, {...identity, ...changes}, now)
    expect(problem({hostBoot: 'boot-2'})).to.equal('the host was restarted since the save')
    expect(problem({qemu: {...identity.qemu, mtimeMs: 2}})).to.match(/^QEMU changed since the save/)
    expect(problem({imageVersion: '1.0.1'})).to.equal('the OS image changed since the save (1.0.0 -> 1.0.1)')
    expect(problem({argv: 'c'.repeat(64)})).to.match(/hardware changed/)
    expect(problem({settings: 'c'.repeat(64)})).to.match(/settings changed/)
    expect(savedStateProblem(record, paths.state, identity, undefined)).to.equal('the data disk is gone')
  })

  it('a data disk written since the save, even with its times put back, is refused', () => {
    const record = save()
    const before = statSync(disk)
    writeFileSync(disk, Buffer.concat([Buffer.alloc(1, 9), Buffer.alloc(2 * 1024 * 1024 - 1, 1)]))
    utimesSync(disk, before.atime, before.mtime)
    expect(savedStateProblem(record, paths.state, identity, diskIdentity(disk))).to.equal('the data disk was changed since the save')
  })

  it('a truncated or missing state file is refused before QEMU sees it', () => {
    const record = save()
    truncateSync(paths.state, stateBytes.length - 4096)
    expect(savedStateProblem(record, paths.state, identity, diskIdentity(disk))).to.match(/truncated or replaced/)
    rmSync(paths.state)
    expect(savedStateProblem(record, paths.state, identity, diskIdentity(disk))).to.equal('the state file is gone')
  })

  it('a state without its record (a save cut short) is no saved state; a record that is not one is named', () => {
    prepareSavedStateDir(paths)
    writeFileSync(paths.state, 'half')
    expect(readSavedState(paths)).to.equal(undefined)
    writeFileSync(paths.record, '{"format": 2}')
    expect(readSavedState(paths)).to.equal('its record is not one this dlite wrote')
    writeFileSync(paths.record, 'not json')
    expect(readSavedState(paths)).to.equal('its record is not JSON')
    discardSavedState(paths)
    expect(existsSync(paths.record)).to.equal(false)
    expect(existsSync(paths.state)).to.equal(false)
  })

  it('streams a state from a socket to a file and back, with its size and sha256; the socket is private', async () => {
    const socket = join(dir, 'migrate.sock')
    const file = join(dir, 'out.state')
    const receiving = await receiveState(socket, file)
    expect(statSync(socket).mode & 0o777).to.equal(0o600)
    // QEMU's side of a save: it connects and writes the stream, then closes
    await new Promise<void>((resolve, reject) => {
      const qemu = connect(socket, () => qemu.end(stateBytes, () => resolve()))
      qemu.on('error', reject)
    })
    const written = await receiving.done
    receiving.close()
    expect(written).to.deep.equal({bytes: stateBytes.length, sha256: createHash('sha256').update(stateBytes).digest('hex')})
    expect(readFileSync(file)).to.deep.equal(stateBytes)
    expect(statSync(file).mode & 0o777).to.equal(0o600)
    expect(existsSync(socket)).to.equal(false)

    // QEMU's side of a resume: it listens (migrate-incoming) and reads until the end
    const incoming = join(dir, 'incoming.sock')
    const got: Buffer[] = []
    const loaded = new Promise<Buffer>((resolve) => {
      const server = createServer((c) => {
        c.on('data', (d: Buffer) => got.push(d))
        c.on('end', () => {
          server.close()
          resolve(Buffer.concat(got))
        })
      })
      // a moment late, as QEMU is after migrate-incoming: the sender waits for it
      setTimeout(() => server.listen(incoming), 200)
    })
    const sent = await sendState(incoming, file)
    expect(sent).to.deep.equal(written)
    expect(await loaded).to.deep.equal(stateBytes)
  })
})
