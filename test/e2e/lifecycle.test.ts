// The product, end to end, inside a private network namespace: install -> start -> the stock docker CLI
// through the host socket -> a published port at local.docker -> status/ip -> stop/start keeps images ->
// ssh -> the daemon killed (its QEMU goes with it) and started again -> QEMU killed and brought back -> stop ->
// uninstall leaves nothing behind.
import {expect} from 'chai'
import {appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {busyboxImageTarball} from '../helpers/busybox-image.js'
import {BUILT_OS_MANIFEST, dliteCli, printLogsOnFailure, type CliRunner} from '../helpers/dlite-cli.js'
import {isAlive} from '../../src/daemon/pid-lock.js'
import {inotifyWatchBinary} from '../helpers/inotify-watch.js'
import {createNetns, type Netns} from '../helpers/netns.js'

const SUBNET = '192.168.64.0/24'

const VM_IP = '192.168.64.2'

describe('dlite lifecycle (e2e, real VM under QEMU)', function () {
  this.timeout(15 * 60_000)
  let ns: Netns
  let dir: string
  let home: string
  let socket: string
  let cli: CliRunner
  const docker = (args: string[], opts: {input?: string; timeoutMs?: number} = {}) =>
    ns.run('docker', ['-H', `unix://${socket}`, ...args], {timeoutMs: opts.timeoutMs ?? 180_000, input: opts.input,
      env: {...process.env, DOCKER_CONFIG: join(dir, 'docker-config')}})

  before(async () => {
    ns = await createNetns('dlite-e2e')
    dir = mkdtempSync(join(tmpdir(), 'dlite-e2e-'))
    home = join(dir, 'home')
    socket = join(dir, 'run', 'docker.sock')
    mkdirSync(join(dir, 'share'))
    writeFileSync(join(dir, 'share', 'hello.txt'), 'from the host\n')
    mkdirSync(join(dir, 'docker-config'))
    cli = dliteCli({DLITE_HOME: home, DOCKER_CONFIG: join(dir, 'docker-config')}, ns)
  })

  after(async () => {
    // Whatever happened, leave no VM, daemon or namespace behind.
    if (cli) await cli(['stop', '--timeout', '5']).catch(() => {})
    await ns?.remove()
    rmSync(dir, {recursive: true, force: true})
  })

  afterEach(printLogsOnFailure(() => home))

  it('installs with --yes and the locally built image, with a sparse disk', async () => {
    const {code, body, stderr} = await cli.json<{imageVersion: string; diskAllocatedBytes: number}>([
      'install', '--yes', '--network', 'bridged', '--os', BUILT_OS_MANIFEST, '-c', '2', '-m', '2', '-d', '10', '--subnet', SUBNET,
      '--share', join(dir, 'share'), '--docker-socket', socket, '--ssh-key', 'none',
    ])
    expect(code, stderr).to.equal(0)
    expect(body.imageVersion).to.be.a('string')
    expect(body.diskAllocatedBytes).to.be.below(1024 * 1024)
  })

  it('starts, and returns when docker answers through the host socket', async () => {
    const {code, body, stderr} = await cli.json<{alreadyRunning: boolean; status: {state: string; ip: string}}>(['start', '--timeout', '400'], {timeoutMs: 420_000})
    expect(code, stderr).to.equal(0)
    expect(body.status.state).to.equal('running')
    expect(body.status.ip).to.equal(VM_IP)
    const mode = statSync(socket).mode & 0o777
    expect(mode).to.equal(0o660)
  })

  it('start again says it is already running', async () => {
    const {code, body} = await cli.json<{alreadyRunning: boolean}>(['start'])
    expect(code).to.equal(0)
    expect(body.alreadyRunning).to.equal(true)
  })

  it('the stock docker CLI works: version, import, run --rm', async () => {
    const version = await docker(['version', '--format', '{{.Server.Version}}'])
    expect(version.code, version.stderr).to.equal(0)
    expect(version.stdout.trim()).to.match(/^26\./)
    const tarball = await busyboxImageTarball(dir)
    const imported = await docker(['import', tarball, 'busybox:local'])
    expect(imported.code, imported.stderr).to.equal(0)
    const hello = await docker(['run', '--rm', 'busybox:local', '/bin/echo', 'hello from a container'])
    expect(hello.code, hello.stderr).to.equal(0)
    expect(hello.stdout.trim()).to.equal('hello from a container')
  })

  it('shares the host directory at the same path', async () => {
    const share = join(dir, 'share')
    const read = await docker(['run', '--rm', '-v', `${share}:/data`, 'busybox:local', '/bin/cat', '/data/hello.txt'])
    expect(read.code, read.stderr).to.equal(0)
    expect(read.stdout).to.equal('from the host\n')
  })

  it('a file saved on the host under the share fires inotify in a container watching it, and keeps its modification time', async () => {
    const share = join(dir, 'share')
    const project = join(share, 'project')
    const file = join(project, 'app.js')
    mkdirSync(project)
    writeFileSync(file, 'v1\n')
    const watcher = inotifyWatchBinary(share)
    const started = await docker(['run', '-d', '--name', 'watcher', '-v', `${share}:${share}`, 'busybox:local', watcher, file, project])
    expect(started.code, started.stderr).to.equal(0)
    // each event is its own line, written by itself: wait for all of them, not the first
    const logsUntil = async (...texts: string[]) => {
      const began = Date.now()
      let out = ''
      for (let attempt = 0; attempt < 80 && !texts.every((text) => out.includes(text)); attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 250))
        out = (await docker(['logs', 'watcher'])).stdout
      }
      return {out, ms: Date.now() - began}
    }
    try {
      expect((await logsUntil('WATCHING')).out).to.equal('WATCHING\n')
      appendFileSync(file, 'v2\n')
      const savedMtime = statSync(file, {bigint: true}).mtimeNs
      const seen = await logsUntil(`MODIFY\t${file}\n`, `MODIFY\t${project}\tapp.js\n`)
      expect(seen.out).to.contain(`MODIFY\t${file}\n`).and.contain(`MODIFY\t${project}\tapp.js\n`)
      console.log(`      (inotify in the container ${seen.ms} ms after the host's write, polled through docker logs)`)
      // a file made after the watch began is a change in the watched directory too
      writeFileSync(join(project, 'new.txt'), 'new\n')
      expect((await logsUntil(`MODIFY\t${project}\tnew.txt\n`)).out).to.contain(`MODIFY\t${project}\tnew.txt\n`)
      // the guest set the time the file already had: the host's file is as the editor left it
      expect(statSync(file, {bigint: true}).mtimeNs).to.equal(savedMtime)
      expect(readFileSync(file, 'utf8')).to.equal('v1\nv2\n')
      expect(readFileSync(join(home, 'logs', 'daemon.log'), 'utf8')).to.match(/share events: watching \d+ directories/)
    } finally {
      await docker(['rm', '-f', 'watcher'])
    }
  })

  it('a published port answers at http://local.docker:8080 (the namespace hosts file)', async () => {
    expect(readFileSync(ns.hostsFile, 'utf8')).to.match(new RegExp(`^${VM_IP.replaceAll('.', '\\.')}\\s+local\\.docker\\s+# added by dlite`, 'm'))
    const run = await docker(['run', '-d', '--name', 'web', '-p', '8080:80', 'busybox:local', '/bin/sh', '-c',
      'mkdir -p /www && echo served-by-dlite > /www/index.html && exec /bin/httpd -f -p 80 -h /www'])
    expect(run.code, run.stderr).to.equal(0)
    let body = ''
    for (let attempt = 0; attempt < 30 && !body.includes('served-by-dlite'); attempt++) {
      const got = await ns.run(process.execPath, ['-e', `
        require('http').get('http://local.docker:8080/', (res) => { let b = ''; res.on('data', (d) => b += d); res.on('end', () => console.log(res.statusCode, b)) })
          .on('error', (e) => { console.log('ERR', e.message); process.exit(1) })`], {timeoutMs: 10_000})
      body = got.stdout
      if (!body.includes('served-by-dlite')) await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    expect(body).to.match(/^200 served-by-dlite/)
    expect((await docker(['rm', '-f', 'web'])).code).to.equal(0)
  })

  it('status --json and ip describe the running VM', async () => {
    const {code, body} = await cli.json<Record<string, any>>(['status'])
    expect(code).to.equal(0)
    expect(body).to.include({state: 'running', ip: VM_IP, hostname: 'local.docker', cpus: 2, memoryGiB: 2, dockerSocket: socket})
    expect(body.accelerator).to.be.oneOf(['kvm', 'tcg'])
    expect(body.dockerVersion).to.match(/^26\./)
    expect(body.disk.sizeGiB).to.equal(10)
    expect(body.image.version).to.be.a('string')
    const ip = await cli(['ip'])
    expect(ip.code).to.equal(0)
    expect(ip.stdout.trim()).to.equal(VM_IP)
  })

  it('dlite ssh runs a command with the pinned host key and passes its exit code', async () => {
    const uname = await cli(['ssh', '--', 'uname', '-r'])
    expect(uname.code, uname.stderr).to.equal(0)
    expect(uname.stdout.trim()).to.match(/^6\.12\./)
    const failing = await cli(['ssh', '--', 'exit', '7'])
    expect(failing.code).to.equal(7)
  })

  it('stop, then start: the imported image is still there', async () => {
    const stop = await cli(['stop'], {timeoutMs: 120_000})
    expect(stop.code, stop.stderr).to.equal(0)
    expect((await cli(['ip'])).code).to.equal(1)
    expect(readFileSync(ns.hostsFile, 'utf8')).not.to.contain('added by dlite')
    const start = await cli(['start', '--timeout', '400'], {timeoutMs: 420_000})
    expect(start.code, start.stderr).to.equal(0)
    const images = await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])
    expect(images.stdout).to.contain('busybox:local')
  })

  it('kill -9 of the daemon: QEMU goes with it, stop removes what it left, and start brings the VM back', async () => {
    const before = (await cli.json<{pid: number; qemuPid: number}>(['status'])).body
    process.kill(before.pid, 'SIGKILL')
    for (let i = 0; i < 100 && isAlive(before.qemuPid); i++) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(isAlive(before.qemuPid), 'QEMU went with its daemon').to.equal(false)
    const status = (await cli.json<{state: string; leftBehind?: string[]}>(['status'])).body
    expect(status.state).to.equal('stopped')
    expect(status.leftBehind?.join(' ')).to.match(/network link dlbr-/)
    // what the dead daemon left (bridge, NAT, hosts line, sockets) goes with a stop
    const stopped = await cli.json<{cleanedUp: string[]}>(['stop'])
    expect(stopped.code, stopped.stderr).to.equal(0)
    expect(stopped.body.cleanedUp.join(' ')).to.match(/network link dlbr-.*hosts line/)
    expect(readFileSync(ns.hostsFile, 'utf8')).not.to.contain('added by dlite')
    expect((await ns.run('ip', ['-br', 'link'])).stdout).to.not.match(/dlbr-|dltap-/)
    const started = await cli(['start', '--timeout', '400'], {timeoutMs: 420_000})
    expect(started.code, started.stderr).to.equal(0)
    expect((await docker(['version'])).code).to.equal(0)
    expect(readFileSync(ns.hostsFile, 'utf8').match(/added by dlite/g)).to.have.length(1)
  })

  it('kill -9 of QEMU: the daemon brings the VM back and docker answers again', async () => {
    const before = (await cli.json<{qemuPid: number}>(['status'])).body
    expect(before.qemuPid).to.be.a('number')
    process.kill(before.qemuPid, 'SIGKILL')
    let status: Record<string, any> = {}
    const deadline = Date.now() + 400_000
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 3000))
      status = (await cli.json<Record<string, any>>(['status'])).body
      if (status.state === 'running' && status.qemuPid !== before.qemuPid && status.dockerVersion) break
    }
    expect(status.state).to.equal('running')
    expect(status.restarts).to.be.at.least(1)
    expect((await docker(['version'])).code).to.equal(0)
  })

  it('stop and uninstall --purge leave no hosts line, link, NAT rule or process, and IP forwarding as it was (off)', async () => {
    const {body: status} = await cli.json<{pid: number; qemuPid: number}>(['status'])
    expect((await ns.run('cat', ['/proc/sys/net/ipv4/ip_forward'])).stdout.trim()).to.equal('1')
    expect((await cli(['stop'], {timeoutMs: 120_000})).code).to.equal(0)
    // a fresh namespace starts with forwarding off: the stop of the last bridge puts that back
    expect((await ns.run('cat', ['/proc/sys/net/ipv4/ip_forward'])).stdout.trim()).to.equal('0')
    const removed = await cli(['uninstall', '--purge', '--yes'])
    expect(removed.code, removed.stderr).to.equal(0)
    expect(readFileSync(ns.hostsFile, 'utf8')).not.to.contain('added by dlite')
    const links = await ns.run('ip', ['-br', 'link'])
    expect(links.stdout).to.not.match(/dlbr-|dltap-|dlite0/)
    const tables = await ns.run('nft', ['list', 'tables'])
    expect(tables.stdout).to.not.contain('dlite_')
    for (let i = 0; i < 50 && [status.pid, status.qemuPid].some(isAlive); i++) await new Promise((resolve) => setTimeout(resolve, 100))
    for (const pid of [status.pid, status.qemuPid]) expect(isAlive(pid), `process ${pid} is gone`).to.equal(false)
    expect(() => statSync(home)).to.throw()
  })
})
