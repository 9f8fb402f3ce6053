// The fault matrix of docs/RELIABILITY.md, on a real VM (user-mode networking, inside a private network
// namespace): the daemon killed, a power cut (everything killed at once), the guest's clock off, dockerd killed
// inside the guest, the guest kernel crashing, the share server killed, two starts at once, stop during start,
// the host disk full while the guest writes. (QEMU killed, and Ctrl-C during install and update, are in
// lifecycle.test.ts and test/integration/interrupt.test.ts.) Each ends with docker working and the data a
// container had synced still there.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {busyboxImageTarball} from '../helpers/busybox-image.js'
import {BUILT_OS_MANIFEST, dliteCli, printLogsOnFailure, type CliRunner} from '../helpers/dlite-cli.js'
import {isAlive} from '../../src/daemon/pid-lock.js'
import {createNetns, type Netns, type RunResult} from '../helpers/netns.js'

interface Status {
  state: string
  pid?: number
  qemuPid?: number
  lastError?: string
  lastRestart?: string
  restarts?: number
  leftBehind?: string[]
  dockerVersion?: string
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))


/** QEMU processes whose command line names this disk. */
function qemuFor(disk: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', `file=${disk}`], {encoding: 'utf8'}).split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

describe('faults (e2e, real VM under QEMU): every crash recovers', function () {
  this.timeout(20 * 60_000)
  let ns: Netns
  let dir: string
  let home: string
  let cli: CliRunner
  let image: string

  const dockerIn = (h: string) => (args: string[], opts: {timeoutMs?: number} = {}) =>
    ns.run('docker', ['-H', `unix://${join(h, 'docker.sock')}`, ...args], {timeoutMs: opts.timeoutMs ?? 180_000, env: {...process.env, DOCKER_CONFIG: join(dir, 'docker-config')}})
  const docker = (args: string[], opts: {timeoutMs?: number} = {}) => dockerIn(home)(args, opts)
  const status = async (c = cli) => (await c.json<Status>(['status'])).body
  const start = async (c = cli) => {
    const result = await c(['start', '--timeout', '400'], {timeoutMs: 420_000})
    expect(result.code, result.stderr + result.stdout).to.equal(0)
  }
  const install = async (c: CliRunner, h: string, extra: string[] = []) => {
    const result = await c(['install', '--yes', '--network', 'user', '--os', BUILT_OS_MANIFEST, '-c', '2', '-m', '2', '-d', '10',
      '--share', dir, '--docker-socket', join(h, 'docker.sock'), '--ssh-key', 'none', ...extra])
    expect(result.code, result.stderr).to.equal(0)
  }
  const ok = (r: RunResult) => {
    expect(r.code, r.stderr + r.stdout).to.equal(0)
    return r.stdout.trim()
  }

  before(async () => {
    ns = await createNetns('dlite-flt')
    dir = mkdtempSync(join(tmpdir(), 'dlite-faults-'))
    home = join(dir, 'home')
    mkdirSync(join(dir, 'docker-config'))
    cli = dliteCli({DLITE_HOME: home, DOCKER_CONFIG: join(dir, 'docker-config')}, ns)
    image = await busyboxImageTarball(dir)
    await install(cli, home)
    await start()
    ok(await docker(['import', image, 'busybox:local']))
  })

  after(async () => {
    for (const h of [home, join(dir, 'small', 'home')]) {
      await dliteCli({DLITE_HOME: h}, ns)(['stop', '--timeout', '5']).catch(() => {})
    }
    await ns?.remove()
    try {
      execFileSync('umount', [join(dir, 'small')], {stdio: 'ignore'})
    } catch {
      // not mounted
    }
    rmSync(dir, {recursive: true, force: true})
  })

  afterEach(printLogsOnFailure(() => home))
  afterEach(printLogsOnFailure(() => (existsSync(join(dir, 'small', 'home')) ? join(dir, 'small', 'home') : undefined)))

  it('the daemon killed with SIGKILL: its QEMU dies with it, status tells the truth, start brings docker back with the data', async () => {
    ok(await docker(['run', '--rm', '-v', 'precious:/data', 'busybox:local', 'sh', '-c', 'echo kept-1 > /data/f && sync']))
    const before = await status()
    expect(before.state).to.equal('running')
    process.kill(before.pid!, 'SIGKILL')
    for (let i = 0; i < 100 && isAlive(before.qemuPid!); i++) await sleep(100)
    expect(isAlive(before.qemuPid!), 'QEMU went with its daemon').to.equal(false)
    const after = await status()
    expect(after.state).to.equal('stopped')
    expect(after.leftBehind?.join(' ')).to.contain('control.sock')
    await start()
    expect(ok(await docker(['run', '--rm', '-v', 'precious:/data', 'busybox:local', 'cat', '/data/f']))).to.equal('kept-1')
    expect((await status()).leftBehind).to.equal(undefined)
  })

  it('a power cut (daemon and QEMU killed at once): the data disk checks clean on the next start and the volume is intact', async () => {
    ok(await docker(['run', '--rm', '-v', 'precious:/data', 'busybox:local', 'sh', '-c', 'echo kept-2 >> /data/f && sync']))
    const before = await status()
    process.kill(before.qemuPid!, 'SIGKILL')
    process.kill(before.pid!, 'SIGKILL')
    for (let i = 0; i < 50 && (isAlive(before.qemuPid!) || isAlive(before.pid!)); i++) await sleep(100)
    await start()
    const log = readFileSync(join(home, 'logs', 'daemon.log'), 'utf8')
    const fsck = [...log.matchAll(/DLITE-FSCK (\d+)/g)].at(-1)
    expect(fsck, 'the guest checked its data disk').to.not.equal(undefined)
    expect(Number(fsck![1]), 'e2fsck: 0 clean, 1 journal replayed / fixed').to.be.at.most(1)
    expect(ok(await docker(['run', '--rm', '-v', 'precious:/data', 'busybox:local', 'cat', '/data/f']))).to.equal('kept-1\nkept-2')
  })

  it('the guest clock set an hour off: it follows the host again', async () => {
    /** The guest's clock against the host's around it: how far outside [before, after] it reads (0 when inside). */
    const skew = async (script = 'date +%s') => {
      const before = Date.now() / 1000
      const guest = Number(ok(await docker(['run', '--rm', '--privileged', 'busybox:local', 'sh', '-c', script])))
      const after = Date.now() / 1000
      // whole seconds in the guest: allow the one it truncated
      return guest + 1 < before ? guest + 1 - before : guest > after ? guest - after : 0
    }
    // Set and read back in one container: a periodic push from the host may land before a second run would.
    expect(await skew('date -s "@$(( $(date +%s) + 3600 ))" >/dev/null && date +%s')).to.be.above(3000)
    const started = Date.now()
    let off = Infinity
    while (Date.now() - started < 90_000) {
      off = await skew()
      if (off === 0) break
      await sleep(2000)
    }
    expect(off, 'seconds the guest reads outside the host\'s time around the read').to.equal(0)
    console.log(`      (the guest followed the host after ${((Date.now() - started) / 1000).toFixed(1)} s)`)
  })

  it('dockerd killed inside the guest: the guest starts it again, status names the restart, the data is there', async () => {
    ok(await docker(['run', '-d', '--rm', '--privileged', '--pid', 'host', 'busybox:local', 'sh', '-c', 'sleep 2; kill -9 $(pidof dockerd)']))
    let s: Status = {state: 'running'}
    for (let i = 0; i < 60 && !s.lastRestart; i++) {
      await sleep(1000)
      s = await status()
    }
    expect(s.lastRestart).to.match(/^guest: dockerd exited; started it again \(1 in 10 min\)/)
    let version: RunResult | undefined
    for (let i = 0; i < 60 && version?.code !== 0; i++) {
      version = await docker(['version', '--format', '{{.Server.Version}}'], {timeoutMs: 30_000})
      if (version.code !== 0) await sleep(2000)
    }
    expect(ok(version!)).to.match(/^\d+\./)
    expect(ok(await docker(['run', '--rm', '-v', 'precious:/data', 'busybox:local', 'cat', '/data/f']))).to.contain('kept-1')
    expect(readFileSync(join(home, 'logs', 'daemon.log'), 'utf8')).to.match(/guest: DLITE-WARN docker: dockerd answers again/)
    expect((await status()).state).to.equal('running')
  })

  it('the guest kernel crashes: the VM boots again by itself, status says why, docker and the data come back', async () => {
    const before = await status()
    // the guest dies under this command: its outcome does not matter
    await docker(['run', '--rm', '--privileged', 'busybox:local', 'sh', '-c', 'echo c > /proc/sysrq-trigger'], {timeoutMs: 60_000})
    let s: Status = before
    for (let i = 0; i < 300 && !(s.state === 'running' && s.qemuPid !== before.qemuPid); i++) {
      await sleep(1000)
      s = await status()
    }
    expect(s.state).to.equal('running')
    expect(s.qemuPid, 'a new QEMU').to.not.equal(before.qemuPid)
    expect(s.restarts).to.equal(1)
    expect(s.lastRestart).to.match(/^QEMU exited with code \d+ after a guest kernel panic \(sysrq triggered crash\); the VM was booted again/)
    expect(readFileSync(join(home, 'logs', 'daemon.log'), 'utf8')).to.contain('guest kernel panic: sysrq triggered crash')
    expect(ok(await docker(['run', '--rm', '-v', 'precious:/data', 'busybox:local', 'cat', '/data/f']))).to.contain('kept-1')
  })

  it('the share server killed: status says the share is gone and how to get it back; a restart brings it back', async function () {
    const virtiofsd = (() => {
      try {
        return execFileSync('pgrep', ['-f', `virtiofsd.*${join(home, 'run', 'virtiofs')}[0-9]+\\.sock`], {encoding: 'utf8'}).split(/\s+/).filter(Boolean).map(Number)
      } catch {
        return []
      }
    })()
    // (one virtiofsd per share, run/virtiofs<index>.sock); none when no virtiofsd serves as the daemon's user: 9p then
    if (virtiofsd.length === 0) this.skip()
    writeFileSync(join(dir, 'shared.txt'), 'through the share\n')
    for (const pid of virtiofsd) process.kill(pid, 'SIGKILL')
    let s: Status = {state: 'running'}
    for (let i = 0; i < 50 && !s.lastError; i++) {
      await sleep(200)
      s = await status()
    }
    expect(s.lastError).to.match(/share server \(virtiofsd\) killed by SIGKILL: .*\(dlite stop && dlite start\)/)
    expect((await cli(['stop', '--timeout', '20'], {timeoutMs: 120_000})).code).to.equal(0)
    await start()
    expect(ok(await docker(['run', '--rm', '-v', `${dir}:/s`, 'busybox:local', 'cat', '/s/shared.txt']))).to.equal('through the share')
    expect((await status()).lastError).to.equal(undefined)
  })

  it('two starts at once: one VM, both succeed', async () => {
    expect((await cli(['stop'], {timeoutMs: 120_000})).code).to.equal(0)
    const [a, b] = await Promise.all([cli(['start', '--timeout', '400'], {timeoutMs: 420_000}), cli(['start', '--timeout', '400'], {timeoutMs: 420_000})])
    expect(a.code, a.stderr).to.equal(0)
    expect(b.code, b.stderr).to.equal(0)
    expect(qemuFor(join(home, 'disk.img'))).to.have.length(1)
    expect(ok(await docker(['run', '--rm', '-v', 'precious:/data', 'busybox:local', 'cat', '/data/f']))).to.contain('kept-2')
  })

  it('stop during start: the start ends with a clear error, nothing is left, and the next start works', async () => {
    expect((await cli(['stop'], {timeoutMs: 120_000})).code).to.equal(0)
    const starting = cli(['start', '--timeout', '400'], {timeoutMs: 420_000})
    let s: Status = {state: 'stopped'}
    for (let i = 0; i < 300 && !(s.state === 'starting' && s.qemuPid); i++) {
      await sleep(200)
      s = await status()
    }
    expect(s.qemuPid, 'QEMU was started').to.be.a('number')
    const stopped = await cli(['stop', '--timeout', '10'], {timeoutMs: 120_000})
    expect(stopped.code, stopped.stderr).to.equal(0)
    const started = await starting
    expect(started.code).to.equal(1)
    expect(started.stderr).to.match(/stopped before it was ready/)
    expect(isAlive(s.qemuPid!)).to.equal(false)
    expect((await status()).state).to.equal('stopped')
    await start()
    expect(ok(await docker(['version', '--format', '{{.Server.Version}}']))).to.match(/^\d+\./)
  })

  it('the host disk full while the guest writes: the VM pauses, status says why, and it goes on once space is freed, data intact', async () => {
    expect((await cli(['stop'], {timeoutMs: 120_000})).code).to.equal(0)
    const small = join(dir, 'small')
    mkdirSync(small)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1200m', 'tmpfs', small])
    const smallHome = join(small, 'home')
    const c = dliteCli({DLITE_HOME: smallHome, DOCKER_CONFIG: join(dir, 'docker-config')}, ns)
    const d = dockerIn(smallHome)
    // Without file events: with them the guest looks up the filler the host wrote, and the C virtiofsd then holds
    // it open (O_PATH) until the guest forgets the inode, which a paused guest never does, so deleting the
    // filler would free no space and the VM would stay paused (docs/RELIABILITY.md).
    await install(c, smallHome, ['--no-file-events'])
    await start(c)
    ok(await d(['import', image, 'busybox:local']))
    // leave 150 MiB free, then write 300 MiB of data that is not zeros (QEMU would not store zeros)
    const free = () => {
      const s = statfsSync(small)
      return s.bavail * s.bsize
    }
    execFileSync('fallocate', ['-l', String(free() - 150 * 1024 ** 2), join(small, 'filler')])
    const writing = d(['run', '--rm', '-v', 'big:/data', 'busybox:local', 'sh', '-c',
      'head -c 1048576 /dev/urandom > /tmp/r && for i in $(seq 300); do cat /tmp/r; done > /data/big && sync && ' +
      'md5sum < /data/big && for i in $(seq 300); do cat /tmp/r; done | md5sum'], {timeoutMs: 600_000})
    let s: Status = {state: 'running'}
    for (let i = 0; i < 300 && s.state !== 'paused'; i++) {
      await sleep(1000)
      s = (await c.json<Status>(['status'])).body
    }
    expect(s.state).to.equal('paused')
    expect(s.lastError).to.match(/host disk .* is full; free at least/)
    rmSync(join(small, 'filler'))
    const written = ok(await writing).split('\n')
    expect(written).to.have.length(2)
    expect(written[0], 'what the guest wrote through the pause reads back the same').to.equal(written[1])
    expect((await c.json<Status>(['status'])).body.state).to.equal('running')
    expect((await c(['stop'], {timeoutMs: 120_000})).code).to.equal(0)
  })
})
