import {expect} from 'chai'
import {spawn, spawnSync} from 'node:child_process'
import {closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {dirname} from 'node:path'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {pidFilePath} from '../../src/daemon/daemon-paths.js'
import {acquirePidLock, lockHolder, pidHoldsLock} from '../../src/daemon/pid-lock.js'
import {loadNative} from '../../src/host/native.js'
import {stopVm} from '../../src/lifecycle/vm-control.js'
import {homeLayout} from '../../src/paths.js'

const racer = join(import.meta.dirname, '..', 'fixtures', 'pid-lock-racer.ts')

function race(path: string, racers: number): Promise<string[]> {
  const startAt = Date.now() + 1500 // time for every node to start
  return Promise.all(Array.from({length: racers}, () => new Promise<string>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', racer, path, String(startAt), '1500'], {stdio: ['ignore', 'pipe', 'inherit']})
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk))
    child.on('exit', () => resolve(out.trim()))
  })))
}

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
  return Number(child.stdout.toString())
}

describe('pid lock (one daemon per home)', function () {
  this.timeout(60_000)
  let dir: string
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'dlite-pidlock-'))))
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('takes a free lock, names its holder, refuses a second taker, and is free again after release', () => {
    const path = join(dir, 'daemon.pid')
    const release = acquirePidLock(path)
    expect(readFileSync(path, 'utf8')).to.equal(`${process.pid}\n`)
    expect(lockHolder(path)).to.equal(process.pid)
    expect(() => acquirePidLock(path)).to.throw(`another dlite daemon (pid ${process.pid}) already runs for this DLITE_HOME`)
    release()
    release() // twice is harmless
    expect(existsSync(path)).to.equal(false)
    expect(lockHolder(path)).to.equal(undefined)
  })

  it('a pid file left by a dead daemon names no holder, and is taken over', () => {
    const path = join(dir, 'daemon.pid')
    writeFileSync(path, `${deadPid()}\n`)
    expect(lockHolder(path)).to.equal(undefined)
    const release = acquirePidLock(path)
    expect(lockHolder(path)).to.equal(process.pid)
    release()
  })

  it('a pid file naming a live process that holds no lock (a reused pid) names no holder', () => {
    const path = join(dir, 'daemon.pid')
    writeFileSync(path, `${process.ppid}\n`)
    expect(lockHolder(path)).to.equal(undefined)
  })

  it('six starters racing over a stale pid file: exactly one takes the lock, the others are told who holds it', async () => {
    const path = join(dir, 'daemon.pid')
    for (let round = 0; round < 3; round++) {
      writeFileSync(path, `${deadPid()}\n`)
      const outcomes = await race(path, 6)
      const took = outcomes.filter((o) => o === 'took')
      expect(took, `round ${round}: ${outcomes.join(' | ')}`).to.have.length(1)
      for (const o of outcomes.filter((o) => o !== 'took')) expect(o).to.match(/^refused: another dlite daemon \(pid \d+\) already runs/)
    }
  })

  it('the kernel says which pid holds the lock (/proc/locks): the holder, not another live process', () => {
    const path = join(dir, 'daemon.pid')
    const release = acquirePidLock(path)
    expect(pidHoldsLock(path, process.pid)).to.equal(true)
    expect(pidHoldsLock(path, process.ppid)).to.equal(false)
    expect(pidHoldsLock(path, process.pid, () => {
      throw new Error('no /proc/locks')
    })).to.equal(undefined)
    release()
    expect(pidHoldsLock(path, process.pid)).to.equal(false)
  })

  it('stop never signals a process a forged pid file names, even with the lock held beside it', async () => {
    const home = join(dir, 'home')
    const pidFile = pidFilePath(homeLayout(home))
    mkdirSync(dirname(pidFile), {recursive: true})
    // the "victim": a live process that is not a dlite daemon; SIGTERM would end it
    const victim = spawn('sleep', ['30'], {stdio: 'ignore'})
    const fd = openSync(pidFile, 'w')
    try {
      writeFileSync(pidFile, `${victim.pid}\n`)
      expect(loadNative().flock(fd, 'exclusive')).to.equal(true) // someone holds a lock on the file: not the victim
      const error = await stopVm(home, {network: 'user', dockerSocket: join(home, 'docker.sock'), subnet: '192.168.64.0/24', hostname: 'dlite'}, 1000, {cold: false})
        .then(() => undefined, (e: Error) => e)
      expect(error?.message).to.match(new RegExp(`names pid ${victim.pid}, which does not hold this home's daemon lock: it was not signalled`))
      expect(victim.exitCode).to.equal(null)
      expect(victim.signalCode).to.equal(null)
    } finally {
      closeSync(fd)
      victim.kill('SIGKILL')
    }
  })
})
