// `dlite stop` saves the VM and `dlite start` resumes it (issue "start in a blink"), as an ordinary user in
// user-mode networking inside a private namespace: a container keeps running with its uptime, the guest's clock
// is the host's at once, the share and a published port work again, and the state is used once. Every way a
// resume can go wrong — a state truncated, corrupt or from another boot of the host, a QEMU that dies loading it —
// ends in a clean cold boot that says why, with the volume's data intact; a container with a share mounted makes
// the stop power off instead.
import {expect} from 'chai'
import {existsSync, readFileSync, statSync, truncateSync, writeFileSync, openSync, writeSync, closeSync} from 'node:fs'
import {join} from 'node:path'

import {busyboxImageTarball} from '../helpers/busybox-image.js'
import {printLogsOnFailure} from '../helpers/dlite-cli.js'
import {guestClockOffset} from '../helpers/guest-clock-read.js'
import {createNetns, type Netns, type RunResult} from '../helpers/netns.js'
import {createTestUser, type TestUser} from '../helpers/test-user.js'

describe('resume from a saved state (e2e, user-mode networking, real VM under QEMU)', function () {
  this.timeout(15 * 60_000)
  let ns: Netns
  let user: TestUser
  let home: string
  let dlite: (args: string[], opts?: {timeoutMs?: number}) => Promise<RunResult>
  let docker: (args: string[]) => Promise<RunResult>
  const statePath = () => join(home, 'saved-state', 'vm.state')
  const recordPath = () => join(home, 'saved-state', 'vm.state.json')

  const ok = (r: RunResult) => {
    expect(r.code, r.stderr + r.stdout).to.equal(0)
    return r.stdout.trim()
  }
  const startedAt = async (name: string) => ok(await docker(['inspect', '-f', '{{.State.Running}} {{.State.StartedAt}}', name]))
  async function stopJson(args: string[] = []): Promise<{saved?: {bytes: number; ms: number}; poweredOff?: string}> {
    const stopped = await dlite(['stop', ...args, '--json'], {timeoutMs: 180_000})
    return JSON.parse(ok(stopped))
  }
  async function startJson(args: string[] = []): Promise<{status: {resumedFrom?: number; coldBoot?: string; state: string}}> {
    const started = await dlite(['start', '--timeout', '400', ...args, '--json'], {timeoutMs: 420_000})
    return JSON.parse(ok(started))
  }
  const volumeData = async () => ok(await docker(['run', '--rm', '-v', 'kept:/v', 'busybox:local', 'cat', '/v/f']))

  before(async () => {
    ns = await createNetns('dlite-rs')
    user = createTestUser()
    home = join(user.home, '.dlite')
    const cli = join(user.repo, 'bin', 'run.js')
    dlite = (args, opts = {}) => user.run(ns, process.execPath, [cli, ...args], {timeoutMs: opts.timeoutMs ?? 120_000})
    docker = (args) => user.run(ns, 'docker', ['-H', `unix://${join(home, 'docker.sock')}`, ...args], {timeoutMs: 180_000})
  })

  after(async () => {
    if (dlite) await dlite(['stop', '--cold', '--timeout', '5']).catch(() => {})
    await ns?.remove()
    user?.remove()
  })

  afterEach(printLogsOnFailure(() => home))

  it('a running container, a volume and a published port survive stop and start, uptime and all; the clock is the host\'s', async () => {
    ok(await dlite(['install', '--yes', '--os', join(user.repo, 'os', 'dist', 'manifest.json'), '-c', '2', '-m', '2', '-d', '10', '--ssh-key', 'none']))
    const cold = await startJson()
    expect(cold.status.resumedFrom).to.equal(undefined)
    ok(await docker(['import', await busyboxImageTarball(user.home), 'busybox:local']))
    ok(await docker(['run', '--rm', '-v', 'kept:/v', 'busybox:local', 'sh', '-c', 'echo in-the-volume > /v/f']))
    ok(await docker(['run', '-d', '--name', 'sleeper', 'busybox:local', 'sleep', '1d']))
    ok(await docker(['run', '-d', '--name', 'web', '-p', '127.0.0.1:18080:80', 'busybox:local', 'sh', '-c', 'echo served > /index.html && httpd -f -p 80 -h /']))
    const before = await startedAt('sleeper')

    const stopped = await stopJson()
    expect(stopped.saved, JSON.stringify(stopped)).to.not.equal(undefined)
    const saved = stopped.saved!
    process.stderr.write(`    (saved ${(saved.bytes / 1024 / 1024).toFixed(1)} MiB in ${(saved.ms / 1000).toFixed(2)} s)\n`)
    // the user's alone, and no QEMU left
    for (const path of [statePath(), recordPath()]) {
      const stat = statSync(path)
      expect(stat.uid, path).to.equal(user.uid)
      expect(stat.mode & 0o077, path).to.equal(0)
    }
    expect(statSync(join(home, 'saved-state')).mode & 0o077).to.equal(0)
    expect(statSync(statePath()).size).to.equal(saved.bytes)
    expect(ok(await user.run(ns, 'sh', ['-c', `pgrep -u ${user.uid} -f '[q]emu-system' || true`]))).to.equal('')

    writeFileSync(join(user.home, 'after-resume.txt'), 'written while the VM was saved\n')
    const started = Date.now()
    const resumed = await startJson()
    const ms = Date.now() - started
    process.stderr.write(`    (dlite start resumed it in ${(ms / 1000).toFixed(1)} s)\n`)
    // where the resume's time went: the daemon's stage lines of this start, each as seconds since the first
    const log = readFileSync(join(home, 'logs', 'daemon.log'), 'utf8').split('\n')
    const lines = log.slice(log.map((line) => line.includes('stage network start')).lastIndexOf(true))
    const t0 = Date.parse(lines[0].slice(0, 24))
    process.stderr.write(`      ${log.filter((line) => line.includes('saved the VM\'s state')).at(-1)?.slice(25)}\n`)
    process.stderr.write(lines.filter((line) => / stage \w+ (done|fail)| resume: /.test(line))
      .map((line) => `      +${((Date.parse(line.slice(0, 24)) - t0) / 1000).toFixed(2)} s ${line.slice(25)}\n`).join(''))
    expect(resumed.status.resumedFrom, JSON.stringify(resumed.status)).to.be.a('number')
    expect(resumed.status.coldBoot).to.equal(undefined)
    // used once
    expect(existsSync(statePath())).to.equal(false)
    expect(existsSync(recordPath())).to.equal(false)
    expect(await startedAt('sleeper'), 'the container ran on, not started again').to.equal(before)
    const clock = await guestClockOffset((args) => docker(['exec', 'sleeper', ...args]))
    process.stderr.write(`    (after the resume, the guest clock is ${clock.offsetMs.toFixed(0)} ± ${clock.halfGapMs.toFixed(0)} ms off the host's)\n`)
    expect(Math.abs(clock.offsetMs), 'ms between the guest clock and the host\'s').to.be.at.most(1000)
    // the share is back (a file written while the VM was saved), the port answers, the volume is there
    const share = user.home
    expect(ok(await docker(['run', '--rm', '-v', `${share}:${share}`, 'busybox:local', 'cat', join(share, 'after-resume.txt')]))).to.equal('written while the VM was saved')
    const page = await user.run(ns, process.execPath, ['-e', `require('http').get('http://127.0.0.1:18080/', (r) => { let b = ''; r.on('data', (d) => b += d); r.on('end', () => console.log(b.trim())) }).on('error', (e) => { console.log('ERR', e.code); process.exit(1) })`])
    expect(ok(page)).to.equal('served')
    expect(await volumeData()).to.equal('in-the-volume')
    ok(await docker(['rm', '-f', 'web']))
  })

  it('a truncated state is not resumed: a cold boot that says why, the volume intact', async () => {
    expect((await stopJson()).saved).to.not.equal(undefined)
    truncateSync(statePath(), statSync(statePath()).size - 4096)
    const started = await startJson()
    expect(started.status.resumedFrom).to.equal(undefined)
    expect(started.status.coldBoot).to.match(/truncated/)
    expect(existsSync(statePath())).to.equal(false)
    expect(readFileSync(join(home, 'logs', 'daemon.log'), 'utf8')).to.match(/the saved state was not used: .*truncated.*; booting cold/)
    expect(await volumeData()).to.equal('in-the-volume')
    expect(await startedAt('sleeper')).to.match(/^false /)
  })

  it('a corrupt state (same size, bytes changed) loads, fails its checksum and ends in a cold boot', async () => {
    ok(await docker(['start', 'sleeper']))
    expect((await stopJson()).saved).to.not.equal(undefined)
    const fd = openSync(statePath(), 'r+')
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, Math.floor(statSync(statePath()).size / 2))
    closeSync(fd)
    const started = await startJson()
    expect(started.status.resumedFrom).to.equal(undefined)
    expect(started.status.coldBoot).to.match(/could not be resumed/)
    expect(await volumeData()).to.equal('in-the-volume')
  })

  it('a resume that crashes (its QEMU killed while it loads the state) ends in a cold boot', async () => {
    expect((await stopJson()).saved).to.not.equal(undefined)
    const log = join(home, 'logs', 'daemon.log')
    const before = readFileSync(log, 'utf8').length
    const starting = startJson()
    // the QEMU launched for the state, killed as soon as the daemon says it is loading it (that takes seconds)
    let killed = ''
    for (let i = 0; i < 600 && !killed; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      if (!readFileSync(log, 'utf8').slice(before).includes('loading the saved state')) continue
      killed = ok(await user.run(ns, 'sh', ['-c', `pkill -KILL -u ${user.uid} -e -f '^qemu-system' || true`]))
    }
    expect(killed, 'a QEMU loading the state was killed').to.match(/killed/)
    const started = await starting
    expect(started.status.resumedFrom).to.equal(undefined)
    expect(started.status.coldBoot).to.match(/could not be resumed/)
    expect(existsSync(statePath())).to.equal(false)
    expect(await volumeData()).to.equal('in-the-volume')
  })

  it('a state from before the host restarted is not resumed', async () => {
    expect((await stopJson()).saved).to.not.equal(undefined)
    const record = JSON.parse(readFileSync(recordPath(), 'utf8'))
    record.identity.hostBoot = '00000000-0000-0000-0000-000000000000'
    writeFileSync(recordPath(), JSON.stringify(record))
    const started = await startJson()
    expect(started.status.coldBoot).to.match(/the host was restarted since the save/)
    expect(await volumeData()).to.equal('in-the-volume')
  })

  it('a container with a share mounted makes the stop power off, saying why; --cold and start --cold boot', async () => {
    const share = user.home
    ok(await docker(['run', '-d', '--name', 'binder', '-v', `${share}:${share}`, 'busybox:local', 'sleep', '1d']))
    const stopped = await stopJson()
    expect(stopped.saved).to.equal(undefined)
    expect(stopped.poweredOff).to.match(/a container has a share mounted/)
    expect(existsSync(statePath())).to.equal(false)
    await startJson()
    ok(await docker(['rm', '-f', 'binder']))
    expect((await stopJson(['--cold'])).saved).to.equal(undefined)
    expect(existsSync(statePath())).to.equal(false)
    await startJson()
    expect((await stopJson()).saved).to.not.equal(undefined)
    const started = await startJson(['--cold'])
    expect(started.status.resumedFrom).to.equal(undefined)
    expect(existsSync(statePath())).to.equal(false)
    expect(await volumeData()).to.equal('in-the-volume')
  })
})
