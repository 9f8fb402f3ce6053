// What a daemon that died leaves, through the real CLI: a VM process that outlived it is `orphaned` in status
// (not `stopped`), `dlite stop` stops it and removes stale sockets, and a recycled pid is never signalled. A
// node process whose command line names the home's data disk stands in for QEMU (the e2e fault tests kill a
// real daemon; on Linux its QEMU dies with it, so this is the path for hosts without a parent-death signal).
import {expect} from 'chai'
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BUILT_OS_MANIFEST, dliteCli, type CliRunner} from '../helpers/dlite-cli.js'
import {hostProcesses} from '../../src/vm/vm-record.js'

describe('leftovers of a dead daemon (status, stop)', function () {
  this.timeout(60_000)
  let dir: string
  let home: string
  let cli: CliRunner
  let fake: ChildProcess | undefined

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-leftovers-'))
    home = join(dir, 'home')
    cli = dliteCli({DLITE_HOME: home})
    const installed = await cli(['install', '--yes', '--network', 'user', '--os', BUILT_OS_MANIFEST, '--share', dir, '--ssh-key', 'none'])
    expect(installed.code, installed.stderr).to.equal(0)
  })
  after(() => {
    fake?.kill('SIGKILL')
    rmSync(dir, {recursive: true, force: true})
  })

  async function leftoverVm(startTime?: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', `file=${join(home, 'disk.img')},format=raw`], {stdio: 'ignore'})
    await new Promise((resolve) => child.once('spawn', resolve))
    await new Promise((resolve) => setTimeout(resolve, 100))
    writeFileSync(join(home, 'run', 'vm.json'), JSON.stringify({pid: child.pid, startTime: startTime ?? hostProcesses.startTime(child.pid!), disk: join(home, 'disk.img'), daemonPid: 999_999}))
    return child
  }

  it('a VM without its daemon is orphaned, not stopped, and status names it with the fix', async () => {
    fake = await leftoverVm()
    const {code, body} = await cli.json<{state: string; qemuPid: number; lastError: string; leftBehind: string[]}>(['status'])
    expect(code).to.equal(0)
    expect(body.state).to.equal('orphaned')
    expect(body.qemuPid).to.equal(fake.pid)
    expect(body.lastError).to.match(/dlite stop/)
    expect(body.leftBehind.join(' ')).to.contain(`QEMU pid ${fake.pid}`)
    const text = await cli(['status'])
    expect(text.stdout).to.match(/state\s+orphaned/)
    expect(text.stdout).to.match(/left behind\s+QEMU pid/)
  })

  it('dlite stop stops it and removes the sockets nobody serves', async () => {
    // a socket file whose server was killed (a clean close would unlink it): what a killed daemon leaves
    const server = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(join(home, 'run', 'control.sock'))}, () => console.log('up'))`], {stdio: ['ignore', 'pipe', 'inherit']})
    await new Promise((resolve) => server.stdout!.once('data', resolve))
    server.kill('SIGKILL')
    await new Promise((resolve) => server.once('exit', resolve))
    writeFileSync(join(home, 'run', 'placeholder'), '') // not a socket: never touched
    // a socket somebody serves (another engine where dlite's docker socket is configured): never taken
    const served = createServer().listen(join(home, 'docker.sock'))
    await new Promise((resolve) => served.once('listening', resolve))
    const exited = new Promise((resolve) => fake!.once('exit', (_c, signal) => resolve(signal)))
    const {code, body} = await cli.json<{wasRunning: boolean; cleanedUp: string[]}>(['stop'])
    expect(code).to.equal(0)
    expect(body.wasRunning).to.equal(true)
    expect(body.cleanedUp).to.include(`QEMU pid ${fake!.pid}`)
    expect(await exited).to.equal('SIGTERM')
    expect(body.cleanedUp.join(' ')).to.contain('control.sock').and.not.contain('docker.sock')
    expect(existsSync(join(home, 'docker.sock')), 'a served socket stays').to.equal(true)
    await new Promise((resolve) => served.close(resolve))
    const after = await cli.json<{state: string; leftBehind?: string[]}>(['status'])
    expect(after.body.state).to.equal('stopped')
    expect(after.body.leftBehind).to.equal(undefined)
  })

  it('a record whose pid is now another process (another start time) is not signalled', async () => {
    fake = await leftoverVm('12345')
    expect((await cli.json<{state: string}>(['status'])).body.state).to.equal('stopped')
    const {body} = await cli.json<{wasRunning: boolean}>(['stop'])
    expect(body.wasRunning).to.equal(false)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(fake.exitCode === null && fake.signalCode === null, 'still running').to.equal(true)
  })
})
