// Host file changes under the shares go to the guest as `touch MTIME PATH` lines: files written, created and
// made in new directories are seen; dlite's own directory, directories past the cap and unchanged times
// (the guest's own touch coming back) are not; nothing is held for a guest that does not read.
import {expect} from 'chai'
import {mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ShareEvents, touchLine} from '../../src/daemon/share-events.js'
import {ShareWatch} from '../../src/daemon/share-watch.js'

const settle = (ms = 300) => new Promise((resolve) => setTimeout(resolve, ms))

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check() && Date.now() < deadline) await settle(20)
}

describe('share events', function () {
  this.timeout(15_000)
  let dir: string
  let share: string
  let server: Server
  let lines: string[]
  let events: ShareEvents | undefined
  let logs: string[]

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-share-events-'))
    share = join(dir, 'share')
    mkdirSync(join(share, 'src', 'deep'), {recursive: true})
    mkdirSync(join(share, '.dlite'))
    lines = []
    logs = []
    server = createServer((socket) => {
      socket.setEncoding('utf8')
      socket.on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)))
    })
    await new Promise<void>((resolve) => server.listen(join(dir, 'files.sock'), resolve))
  })
  afterEach(async () => {
    events?.stop()
    events = undefined
    await new Promise((resolve) => server.close(resolve))
    rmSync(dir, {recursive: true, force: true})
  })

  async function started(options: {exclude?: string[]; maxDirectories?: number} = {}): Promise<ShareEvents> {
    events = new ShareEvents({socketPath: join(dir, 'files.sock'), roots: [share], log: (l) => logs.push(l), batchMs: 20, ...options})
    await events.connect(2000)
    events.start()
    await until(() => logs.some((l) => l.includes('watching')))
    return events
  }

  const mtimeNs = (path: string) => statSync(path, {bigint: true}).mtimeNs

  it('formats seconds and nanoseconds exactly, and refuses a path the line cannot carry', () => {
    expect(touchLine('/home/u/a b.txt', 1_764_739_900_000_000_123n)).to.equal('touch 1764739900.000000123 /home/u/a b.txt\n')
    expect(touchLine('/home/u/x', 5_000_000_000n)).to.equal('touch 5.000000000 /home/u/x\n')
    expect(touchLine('/home/u/evil\ntouch 1.000000000 /etc/passwd', 1n)).to.equal(undefined)
  })

  it('sends a file written in a watched tree, with its own modification time', async () => {
    await started()
    const file = join(share, 'src', 'deep', 'app.js')
    writeFileSync(file, 'one')
    await until(() => lines.length > 0)
    const ns = mtimeNs(file)
    expect(lines).to.deep.equal([`touch ${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')} ${file}`])
  })

  it('follows a directory made after the start, and a file made in it', async () => {
    await started()
    mkdirSync(join(share, 'later'))
    await settle()
    const file = join(share, 'later', 'new.txt')
    writeFileSync(file, 'x')
    await until(() => lines.some((l) => l.endsWith(` ${file}`)))
    expect(lines.some((l) => l.endsWith(` ${file}`))).to.equal(true)
  })

  it('sends a new directory too, so the guest can hold it open before its watchers hear of it', async () => {
    await started()
    const made = join(share, 'fresh')
    mkdirSync(made)
    await until(() => lines.some((l) => l.endsWith(` ${made}`)))
    expect(lines.some((l) => l.endsWith(` ${made}`))).to.equal(true)
  })

  it('does not send again a file whose time is the one it sent (the guest touch echoing back)', async () => {
    const watcher = await started()
    const file = join(share, 'a.txt')
    writeFileSync(file, 'x')
    await until(() => lines.length === 1)
    // a whole second, which Node can set exactly (its utimes takes milliseconds)
    utimesSync(file, 1_700_000_000, 1_700_000_000)
    await until(() => lines.length === 2)
    expect(lines[1]).to.equal(`touch 1700000000.000000000 ${file}`)
    // what the guest agent does: set the time the file has again, an attribute change on the host
    utimesSync(file, 1_700_000_000, 1_700_000_000)
    await settle()
    expect(lines).to.have.length(2)
    expect(watcher.forwarded).to.equal(2)
  })

  it('ignores the excluded tree (dlite\'s own directory with the VM disk)', async () => {
    await started({exclude: [join(share, '.dlite')]})
    writeFileSync(join(share, '.dlite', 'disk.img'), 'changing')
    writeFileSync(join(share, 'visible'), 'x')
    await until(() => lines.length > 0)
    await settle()
    expect(lines.map((l) => l.split(' ').slice(2).join(' '))).to.deep.equal([join(share, 'visible')])
  })

  it('drops changes while the guest end is missing, and says so once', async () => {
    events = new ShareEvents({socketPath: join(dir, 'nobody.sock'), roots: [share], log: (l) => logs.push(l), batchMs: 20})
    await events.connect(200)
    events.start()
    await until(() => logs.some((l) => l.includes('watching')))
    writeFileSync(join(share, 'one'), 'x')
    await settle()
    writeFileSync(join(share, 'two'), 'x')
    await settle()
    expect(events.forwarded).to.equal(0)
    expect(logs.filter((l) => l.includes('does not read'))).to.have.length(1)
  })
})

describe('share watch', function () {
  this.timeout(10_000)
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-share-watch-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('watches breadth first up to the cap and says where it stopped', async () => {
    for (const name of ['a', 'b', 'c']) mkdirSync(join(dir, name, 'deeper', 'deepest'), {recursive: true})
    const logs: string[] = []
    const watch = new ShareWatch({roots: [dir], onChange: () => {}, log: (l) => logs.push(l), maxDirectories: 4, platform: 'linux'})
    await watch.start()
    try {
      // the root and its three children: the shallow directories a project's files are in
      expect(watch.watchedDirectories).to.equal(4)
      expect(logs.join('\n')).to.match(/watching 4 directories, the most there may be/)
    } finally {
      watch.close()
    }
  })

  it('does not follow a symbolic link out of the share', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'dlite-outside-'))
    try {
      mkdirSync(join(outside, 'secret'))
      symlinkSync(outside, join(dir, 'link'))
      const watch = new ShareWatch({roots: [dir], onChange: () => {}, log: () => {}, platform: 'linux'})
      await watch.start()
      expect(watch.watchedDirectories).to.equal(1)
      watch.close()
    } finally {
      rmSync(outside, {recursive: true, force: true})
    }
  })
})
