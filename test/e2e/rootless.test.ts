// dlite as an ordinary user, the way a new user meets it (issue: "dlite runs as you"): a user the test creates
// installs and starts a VM in user-mode networking inside a private namespace — no sudo, no capability — and
// every process of that VM runs as that user (a daemon killed with SIGKILL takes its QEMU with it). Their own
// docker CLI works; published ports answer on 127.0.0.1 and [::1] (TCP and UDP, ranges, loopback-only
// bindings, taken ports reported, listeners gone with the container); containers reach a host server at host.docker.internal; files containers write into the
// shared home are the user's, and a setuid-root file cannot be made there; a file the user saves there fires
// inotify in a container (the share is virtiofs, served by the Rust virtiofsd as the user).
import {expect} from 'chai'
import {chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {isAlive} from '../../src/daemon/pid-lock.js'
import {busyboxImageTarball, findStaticBusybox} from '../helpers/busybox-image.js'
import {inotifyWatchBinary} from '../helpers/inotify-watch.js'
import {printLogsOnFailure} from '../helpers/dlite-cli.js'
import {guestClockOffset} from '../helpers/guest-clock-read.js'
import {processesMentioning, uidsOf} from '../helpers/processes.js'
import {createNetns, type Netns, type RunResult} from '../helpers/netns.js'
import {createTestUser, type TestUser} from '../helpers/test-user.js'
import {udpEchoBinary} from '../helpers/udp-echo.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('dlite as an ordinary user (e2e, user-mode networking, real VM under QEMU)', function () {
  this.timeout(15 * 60_000)
  let ns: Netns
  let user: TestUser
  let dlite: (args: string[], opts?: {timeoutMs?: number}) => Promise<RunResult>
  let docker: (args: string[], opts?: {timeoutMs?: number}) => Promise<RunResult>
  /** The user's docker CLI with no -H: whatever their docker config and environment choose. */
  let plainDocker: (args: string[]) => Promise<RunResult>
  let cli: string
  let home: string
  let socket: string
  let hostServer: ReturnType<Netns['spawn']> | undefined
  let squatter: ReturnType<Netns['spawn']> | undefined
  let readOnly: string | undefined

  /** A node one-liner run as the user inside the namespace (the host side of a check). */
  const nodeAsUser = (script: string) => user.run(ns, process.execPath, ['-e', script], {timeoutMs: 15_000})
  const httpGet = (url: string) => nodeAsUser(`
    require('http').get(${JSON.stringify(url)}, (res) => { let b = ''; res.on('data', (d) => b += d); res.on('end', () => console.log(res.statusCode, b.trim())) })
      .on('error', (e) => { console.log('ERR', e.code || e.message); process.exit(1) })`)
  const udpAsk = (host: string, port: number, text: string) => nodeAsUser(`
    const s = require('dgram').createSocket(${JSON.stringify(host.includes(':') ? 'udp6' : 'udp4')});
    const t = setTimeout(() => { console.log('TIMEOUT'); process.exit(1) }, 3000);
    s.on('message', (m) => { console.log(m.toString()); clearTimeout(t); s.close() });
    s.send(${JSON.stringify(text)}, ${port}, ${JSON.stringify(host)})`)
  /** Polls `check` until it passes or `attempts` run out; returns the last result and how long it took. */
  async function eventually(check: () => Promise<RunResult>, pass: (r: RunResult) => boolean, attempts = 40): Promise<{result: RunResult; ms: number}> {
    const started = Date.now()
    let result = await check()
    for (let i = 1; i < attempts && !pass(result); i++) {
      await sleep(250)
      result = await check()
    }
    return {result, ms: Date.now() - started}
  }

  before(async () => {
    ns = await createNetns('dlite-rl')
    user = createTestUser()
    home = join(user.home, '.dlite')
    socket = join(home, 'docker.sock')
    cli = join(user.repo, 'bin', 'run.js')
    dlite = (args, opts = {}) => user.run(ns, process.execPath, [cli, ...args], {timeoutMs: opts.timeoutMs ?? 120_000})
    docker = (args, opts = {}) => user.run(ns, 'docker', ['-H', `unix://${socket}`, ...args], {timeoutMs: opts.timeoutMs ?? 180_000})
    plainDocker = (args) => user.run(ns, 'docker', args, {timeoutMs: 120_000})
    writeFileSync(join(user.home, 'hello.txt'), 'from the host\n')
    // the user had a docker context of their own in use before dlite: uninstall must put it back
    for (const args of [['context', 'create', 'mine', '--docker', 'host=unix:///nonexistent/docker.sock'], ['context', 'use', 'mine']]) {
      const made = await plainDocker(args)
      expect(made.code, made.stderr).to.equal(0)
    }
  })

  after(async () => {
    hostServer?.kill()
    squatter?.kill()
    if (dlite) await dlite(['stop', '--timeout', '5']).catch(() => {})
    await ns?.remove()
    user?.remove()
    if (readOnly) rmSync(readOnly, {recursive: true, force: true})
  })

  afterEach(printLogsOnFailure(() => home))

  it('installs as the user with no flags but the image: user-mode networking, everything in the home owned by the user', async () => {
    const manifest = join(user.repo, 'os', 'dist', 'manifest.json')
    // an extra dockerd argument with a space in it: it must reach dockerd as one argument
    const installed = await dlite(['install', '--yes', '--os', manifest, '-c', '2', '-m', '2', '-d', '10', '--ssh-key', 'none', '-e', "--label 'team=a b'", '--json'])
    expect(installed.code, installed.stderr).to.equal(0)
    const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'))
    expect(config).to.include({network: 'user', dockerSocket: socket})
    expect(config.mounts).to.deep.equal([{path: user.home}])
    for (const name of ['config.json', 'disk.img', 'keys', 'tls', 'images']) expect(statSync(join(home, name)).uid, name).to.equal(user.uid)
    // the CA's key is not kept; a home an older dlite installed has one, planted here for start to remove
    expect(existsSync(join(home, 'tls', 'ca-key.pem'))).to.equal(false)
    writeFileSync(join(home, 'tls', 'ca-key.pem'), '-----BEGIN PRIVATE KEY-----\nold\n-----END PRIVATE KEY-----\n', {mode: 0o600})
    chownSync(join(home, 'tls', 'ca-key.pem'), user.uid, user.gid)
  })

  it('starts with no sudo; the daemon, QEMU and the share server run as the user, none as root; QEMU under its seccomp sandbox', async () => {
    const started = await dlite(['start', '--timeout', '400', '--json'], {timeoutMs: 420_000})
    expect(started.code, started.stderr).to.equal(0)
    const {status} = JSON.parse(started.stdout)
    expect(status).to.include({state: 'running', network: 'user', ip: '127.0.0.1'})
    expect(status.dockerEndpoint).to.match(/^tcp:\/\/127\.0\.0\.1:\d+$/)
    for (const pid of [status.pid, status.qemuPid]) expect(uidsOf(pid), `pid ${pid}`).to.deep.equal([user.uid, user.uid, user.uid, user.uid])
    const mine = processesMentioning(home)
    expect(mine.some((p) => p.cmd.includes('qemu-system'))).to.equal(true)
    for (const p of mine) expect(p.uids, p.cmd).to.deep.equal([user.uid, user.uid, user.uid, user.uid])
    // QEMU runs under its seccomp filter (mode 2): a guest that breaks out cannot exec a program
    expect(readFileSync(`/proc/${status.qemuPid}/status`, 'utf8')).to.match(/^Seccomp:\s+2$/m)
    expect(readFileSync(`/proc/${status.qemuPid}/cmdline`, 'utf8').split('\0')).to.include('-sandbox')
    // what the user's daemon creates is theirs alone, whatever the user's umask; QEMU keeps the user's own umask
    // for what it writes as the user (setpriv passes this process's umask on)
    const umaskOf = (pid: number) => /^Umask:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    expect(umaskOf(status.pid)).to.equal('0077')
    expect(umaskOf(status.qemuPid)).to.equal(umaskOf(process.pid)).and.not.equal('0077')
    // the user's daemon removed the CA key an older dlite left (planted by the install test)
    expect(existsSync(join(home, 'tls', 'ca-key.pem'))).to.equal(false)
    expect(readFileSync(join(home, 'logs', 'daemon.log'), 'utf8')).to.contain('tls: removed the CA key an older dlite kept')
    // the docker socket and the control socket are the user's alone
    for (const path of [socket, join(home, 'run', 'control.sock')]) {
      const stats = statSync(path)
      expect(stats.uid, path).to.equal(user.uid)
      expect(stats.mode & 0o777, path).to.equal(0o600)
    }
  })

  it('another local user reaches nothing: not the docker socket, not the control socket, not dockerd\'s port without the client certificate', async () => {
    const other = createTestUser()
    try {
      const viaSocket = await other.run(ns, 'docker', ['-H', `unix://${socket}`, 'version', '--format', '{{.Server.Version}}'], {timeoutMs: 60_000})
      expect(viaSocket.code, viaSocket.stdout).to.not.equal(0)
      expect(viaSocket.stderr).to.match(/permission denied/i)
      // a tiny client: exit 0 with whatever the other end answered, 3 with the error's code
      const probe = (connect: string) => other.run(ns, process.execPath, ['-e', `
        const s = ${connect}
        s.on('data', (d) => { process.stdout.write(String(d)); process.exit(0) })
        s.on('error', (e) => { process.stderr.write(String(e.code || e.message)); process.exit(3) })
        s.on('close', () => process.exit(3))`], {timeoutMs: 30_000})
      const control = await probe(`require('net').connect(${JSON.stringify(join(home, 'run', 'control.sock'))}, () => s.write('{"op":"status"}\\n'))`)
      expect(control.code, control.stdout).to.equal(3)
      expect(control.stderr).to.match(/EACCES/)
      const {dockerEndpoint} = JSON.parse((await dlite(['status', '--json'])).stdout) as {dockerEndpoint: string}
      const port = Number(/:(\d+)$/.exec(dockerEndpoint)![1])
      const tls = await probe(`require('tls').connect({host: '127.0.0.1', port: ${port}, rejectUnauthorized: false}, () => s.write('GET /version HTTP/1.0\\r\\n\\r\\n'))`)
      expect(tls.code, `dockerd answered a client without a certificate: ${tls.stdout}`).to.equal(3)
    } finally {
      other.remove()
    }
  })

  it('docker finds dlite by itself: start made its context current, and eval "$(dlite env)" gives the same through DOCKER_HOST', async () => {
    expect((await plainDocker(['context', 'show'])).stdout.trim()).to.equal('dlite')
    const ps = await plainDocker(['ps', '--format', '{{.ID}}'])
    expect(ps.code, ps.stderr).to.equal(0)
    // a context that reaches nothing, then the environment dlite env prints
    expect((await plainDocker(['context', 'use', 'mine'])).code).to.equal(0)
    const viaEnv = await user.run(ns, 'bash', ['-c', `eval "$('${process.execPath}' '${cli}' env --shell bash)" && docker version --format '{{.Server.Version}}'`], {timeoutMs: 60_000})
    expect(viaEnv.code, viaEnv.stderr).to.equal(0)
    expect(viaEnv.stdout.trim()).to.match(/^\d+\./)
    expect((await plainDocker(['context', 'use', 'dlite'])).code).to.equal(0)
  })

  it("the user's docker CLI works: version, the install's extra dockerd argument whole (spaces and all), import, run, build", async () => {
    const version = await docker(['version', '--format', '{{.Server.Version}}'])
    expect(version.code, version.stderr).to.equal(0)
    expect(version.stdout.trim()).to.match(/^26\./)
    const labels = await docker(['info', '--format', '{{json .Labels}}'])
    expect(JSON.parse(labels.stdout), labels.stderr).to.deep.equal(['team=a b'])
    const tarball = await busyboxImageTarball(user.home)
    expect((await docker(['import', tarball, 'busybox:local'])).code).to.equal(0)
    const hello = await docker(['run', '--rm', 'busybox:local', '/bin/echo', 'hello from a container'])
    expect(hello.stdout.trim(), hello.stderr).to.equal('hello from a container')
    const context = join(user.home, 'build')
    await user.run(ns, 'mkdir', ['-p', context])
    await user.run(ns, 'sh', ['-c', `printf 'FROM busybox:local\\nRUN echo built > /built.txt\\n' > ${context}/Dockerfile`])
    const built = await docker(['build', '-q', '-t', 'built:local', context], {timeoutMs: 300_000})
    expect(built.code, built.stderr).to.equal(0)
    const ran = await docker(['run', '--rm', 'built:local', '/bin/cat', '/built.txt'])
    expect(ran.stdout.trim()).to.equal('built')
  })

  it('dlite ssh reaches the guest through its forwarded port with the pinned key', async () => {
    const uname = await dlite(['ssh', '--', 'uname', '-r'])
    expect(uname.code, uname.stderr).to.equal(0)
    expect(uname.stdout.trim()).to.match(/^6\.12\./)
  })

  it("the home is shared at the same path, and what containers write there is the user's; no setuid-root file can be made", async () => {
    const share = user.home
    const read = await docker(['run', '--rm', '-v', `${share}:${share}`, 'busybox:local', '/bin/cat', join(share, 'hello.txt')])
    expect(read.stdout, read.stderr).to.equal('from the host\n')
    // the attack: root in a container plants a root-owned setuid shell in the user's home
    // named busybox-*: busybox then takes its applet from the first argument
    const planted = join(share, 'busybox-suid')
    const attack = await docker(['run', '--rm', '-v', `${share}:${share}`, 'busybox:local', '/bin/sh', '-c',
      `cp /bin/busybox ${planted}; chown 0:0 ${planted}; chmod 4755 ${planted}; echo written > ${share}/by-container.txt`])
    expect(attack.code, attack.stderr).to.equal(0)
    for (const path of [planted, join(share, 'by-container.txt')]) {
      const stats = statSync(path)
      expect(stats.uid, path).to.equal(user.uid)
      expect(stats.gid, path).to.equal(user.gid)
    }
    expect(readFileSync(join(share, 'by-container.txt'), 'utf8')).to.equal('written\n')
    // whatever mode bits it kept, the planted file runs with the user's identity, never root's
    expect(statSync(planted).uid).to.not.equal(0)
    const who = await user.run(ns, planted, ['id', '-u'])
    expect(who.stdout.trim(), `exit ${who.code}: ${who.stderr}; ${planted}: ${statSync(planted).size} bytes, mode ${statSync(planted).mode.toString(8)}`).to.equal(String(user.uid))
  })

  it('a file the user saves on the host under the share fires inotify in a container watching it (virtiofs, served by virtiofsd as the user)', async () => {
    const project = join(user.home, 'project')
    const file = join(project, 'app.js')
    expect((await user.run(ns, 'sh', ['-c', `mkdir -p ${project} && echo v1 > ${file}`])).code).to.equal(0)
    const watcher = inotifyWatchBinary(user.home)
    const started = await docker(['run', '-d', '--name', 'watcher', '-v', `${user.home}:${user.home}`, 'busybox:local', watcher, file, project])
    expect(started.code, started.stderr).to.equal(0)
    // each event is its own line, written by itself: wait for all of them, not the first
    const logsUntil = (...texts: string[]) => eventually(() => docker(['logs', 'watcher']), (r) => texts.every((text) => r.stdout.includes(text)), 80)
    try {
      expect((await logsUntil('WATCHING')).result.stdout).to.equal('WATCHING\n')
      expect((await user.run(ns, 'sh', ['-c', `echo v2 >> ${file}`])).code).to.equal(0)
      const seen = await logsUntil(`MODIFY\t${file}\n`, `MODIFY\t${project}\tapp.js\n`)
      expect(seen.result.stdout).to.contain(`MODIFY\t${file}\n`).and.contain(`MODIFY\t${project}\tapp.js\n`)
      process.stderr.write(`    (inotify in the container ${seen.ms} ms after the user's write, polled through docker logs)\n`)
      expect(readFileSync(file, 'utf8')).to.equal('v1\nv2\n')
      const log = readFileSync(join(home, 'logs', 'daemon.log'), 'utf8')
      expect(log).to.match(/share events: watching \d+ directories/)
      // the share server is a virtiofsd of the user's, never root's
      const servers = processesMentioning(home).filter((p) => p.cmd.includes('virtiofsd'))
      expect(servers, 'a virtiofsd serves the share').to.have.length.greaterThan(0)
      for (const p of servers) expect(p.uids, p.cmd).to.deep.equal([user.uid, user.uid, user.uid, user.uid])
    } finally {
      await docker(['rm', '-f', 'watcher'])
    }
  })

  it('files a container writes into the share arrive whole while the container works in that directory and stats them', async () => {
    // the container's working directory keeps the share's dentry in use; a page cache on 9p then lost pages
    const dir = join(user.home, 'copies')
    expect((await user.run(ns, 'mkdir', ['-p', dir])).code).to.equal(0)
    const copies = 20
    const script = `(while :; do stat ${dir}/copy.* >/dev/null 2>&1; done) & for i in $(seq ${copies}); do cp /bin/busybox ${dir}/copy.$i; done; kill $!`
    const ran = await docker(['run', '--rm', '-v', `${user.home}:${user.home}`, '-w', dir, 'busybox:local', 'sh', '-c', script], {timeoutMs: 300_000})
    expect(ran.code, ran.stderr).to.equal(0)
    const original = readFileSync(findStaticBusybox())
    const broken = readdirSync(dir).filter((name) => !readFileSync(join(dir, name)).equals(original))
    expect(broken, `of ${copies} copies`).to.deep.equal([])
    expect(readdirSync(dir)).to.have.length(copies)
  })

  it('a published port answers on 127.0.0.1 and [::1] right after docker run, and goes when the container stops', async () => {
    const run = await docker(['run', '-d', '--name', 'web', '-p', '8080:80', 'busybox:local', '/bin/sh', '-c',
      'mkdir -p /www && echo served-by-dlite > /www/index.html && exec /bin/httpd -f -p 80 -h /www'])
    expect(run.code, run.stderr).to.equal(0)
    const v4 = await eventually(() => httpGet('http://127.0.0.1:8080/'), (r) => r.stdout.startsWith('200'))
    expect(v4.result.stdout.trim()).to.equal('200 served-by-dlite')
    process.stderr.write(`    (127.0.0.1:8080 answered ${v4.ms} ms after docker run returned)\n`)
    const v6 = await eventually(() => httpGet('http://[::1]:8080/'), (r) => r.stdout.startsWith('200'))
    expect(v6.result.stdout.trim()).to.equal('200 served-by-dlite')
    const {stdout} = await dlite(['status', '--json'])
    const ports = JSON.parse(stdout).ports
    expect(ports.forwarded).to.deep.include({proto: 'tcp', address: '127.0.0.1', hostPort: 8080, containerName: 'web', containerPort: 80})
    expect((await docker(['stop', '-t', '1', 'web'])).code).to.equal(0)
    const gone = await eventually(() => httpGet('http://127.0.0.1:8080/'), (r) => r.stdout.startsWith('ERR'))
    expect(gone.result.stdout).to.match(/ERR (ECONNREFUSED|ECONNRESET)/)
    await docker(['rm', '-f', 'web'])
  })

  it('honours -p 127.0.0.1:X:Y (IPv4 loopback only) and port ranges', async () => {
    const run = await docker(['run', '-d', '--name', 'local-only', '-p', '127.0.0.1:8081:80', '-p', '8090-8091:9090-9091', 'busybox:local', '/bin/sh', '-c',
      'mkdir -p /www && echo loopback-only > /www/index.html && (/bin/httpd -p 9090 -h /www; /bin/httpd -p 9091 -h /www) && exec /bin/httpd -f -p 80 -h /www'])
    expect(run.code, run.stderr).to.equal(0)
    const v4 = await eventually(() => httpGet('http://127.0.0.1:8081/'), (r) => r.stdout.startsWith('200'))
    expect(v4.result.stdout.trim()).to.equal('200 loopback-only')
    expect((await httpGet('http://[::1]:8081/')).stdout).to.match(/^ERR/)
    for (const port of [8090, 8091]) {
      const ranged = await eventually(() => httpGet(`http://127.0.0.1:${port}/`), (r) => r.stdout.startsWith('200'))
      expect(ranged.result.stdout.trim(), String(port)).to.equal('200 loopback-only')
    }
    await docker(['rm', '-f', 'local-only'])
  })

  it('forwards UDP', async () => {
    udpEchoBinary(user.home)
    const run = await docker(['run', '-d', '--name', 'udp', '-p', '5300:5300/udp', '-v', `${user.home}:/share:ro`, 'busybox:local', '/share/udp-echo', '5300'])
    expect(run.code, run.stderr).to.equal(0)
    const answer = await eventually(() => udpAsk('127.0.0.1', 5300, 'ping-over-udp'), (r) => r.stdout.trim() === 'ping-over-udp')
    expect(answer.result.stdout.trim()).to.equal('ping-over-udp')
    await docker(['rm', '-f', 'udp'])
  })

  it('a host port that is already taken is reported, and fails neither the container nor the daemon', async () => {
    // a client that hangs up at once must not crash it (an unhandled ECONNRESET would)
    squatter = ns.spawn(process.execPath, ['-e', "require('net').createServer((s) => s.on('error', () => {}).end('squatter\\n')).listen(8085, '127.0.0.1')"], {stdio: 'ignore'})
    const up = await eventually(() => nodeAsUser("require('net').connect(8085, '127.0.0.1').on('connect', () => { console.log('up'); process.exit(0) }).on('error', () => process.exit(1))"), (r) => r.code === 0)
    expect(up.result.code, 'the squatter listens').to.equal(0)
    const run = await docker(['run', '-d', '--name', 'clash', '-p', '8085:80', 'busybox:local', '/bin/httpd', '-f', '-p', '80'])
    expect(run.code, run.stderr).to.equal(0)
    const status = await eventually(() => dlite(['status', '--json']), (r) => (JSON.parse(r.stdout).ports?.failed ?? []).length > 0)
    const failed = JSON.parse(status.result.stdout).ports.failed
    expect(failed[0]).to.include({proto: 'tcp', hostPort: 8085, containerName: 'clash'})
    expect(failed[0].reason).to.match(/in use|could not/i)
    expect(readFileSync(join(home, 'logs', 'daemon.log'), 'utf8')).to.match(/8085/)
    expect((await docker(['inspect', '-f', '{{.State.Running}}', 'clash'])).stdout.trim()).to.equal('true')
    expect((await docker(['version'])).code).to.equal(0)
    await docker(['rm', '-f', 'clash'])
    squatter.kill()
  })

  it('containers reach a host server at host.docker.internal, on the default bridge and on a user-defined network', async () => {
    hostServer = ns.spawn(process.execPath, ['-e', "require('http').createServer((q, r) => r.end('hello from the host')).listen(18080, '127.0.0.1')"], {stdio: 'ignore'})
    await eventually(() => httpGet('http://127.0.0.1:18080/'), (r) => r.stdout.startsWith('200'))
    expect((await docker(['network', 'create', 'appnet'])).code).to.equal(0)
    for (const network of ['bridge', 'appnet']) {
      const got = await docker(['run', '--rm', '--network', network, 'busybox:local', '/bin/wget', '-q', '-O', '-', 'http://host.docker.internal:18080/'])
      expect(got.stdout, `${network}: ${got.stderr}`).to.equal('hello from the host')
    }
    await docker(['network', 'rm', 'appnet'])
    // the guest's own resolver, never docker's fallback to public servers
    const resolv = await docker(['run', '--rm', 'busybox:local', '/bin/cat', '/etc/resolv.conf'])
    expect(resolv.stdout).to.match(/^nameserver 10\.0\.2\.15$/m).and.not.match(/8\.8\.8\.8|8\.8\.4\.4/)
  })

  it('a container finds no docker API on its bridge gateway: dockerd\'s TLS port is bound to the VM\'s address, not 0.0.0.0', async () => {
    const gateway = (await docker(['network', 'inspect', 'bridge', '-f', '{{(index .IPAM.Config 0).Gateway}}'])).stdout.trim()
    expect(gateway).to.match(/^\d+\.\d+\.\d+\.\d+$/)
    // plain HTTP to a TLS listener gets an answer (400); to a closed port, a refusal
    const probe = async (address: string) => {
      const ran = await docker(['run', '--rm', 'busybox:local', '/bin/sh', '-c', `wget -O - http://${address}:2376/ 2>&1; echo "wget exit $?"`])
      return `${ran.stdout}${ran.stderr}`
    }
    const atGateway = await probe(gateway)
    expect(atGateway, `the docker API answered at ${gateway}:2376`).to.match(/refused/i).and.not.match(/400|Bad Request/)
    const atVm = await probe('10.0.2.15')
    expect(atVm, 'the control: the VM\'s own address serves TLS').to.match(/400|Bad Request/)
  })

  it('the routing plugin refuses a user-mode VM with exit 1 and names the fix', async () => {
    const refused = await dlite(['routing', 'enable'])
    expect(refused.code).to.equal(1)
    expect(refused.stderr).to.match(/user-mode networking/).and.match(/sudo\s+dlite\s+network\s+setup/).and.match(/config\s+set\s+network=bridged/)
  })

  it("the user's daemon killed with SIGKILL: its QEMU goes with it, status tells the truth, and start brings docker back with a volume's data", async () => {
    expect((await docker(['run', '--rm', '-v', 'kept:/data', 'busybox:local', 'sh', '-c', 'echo kept > /data/f && sync'])).code).to.equal(0)
    const before = JSON.parse((await dlite(['status', '--json'])).stdout) as {state: string; pid: number; qemuPid: number}
    expect(before.state).to.equal('running')
    process.kill(before.pid, 'SIGKILL') // as the OOM killer would
    for (let i = 0; i < 100 && isAlive(before.qemuPid); i++) await sleep(100)
    expect(isAlive(before.qemuPid), 'QEMU went with its daemon').to.equal(false)
    const after = JSON.parse((await dlite(['status', '--json'])).stdout) as {state: string; leftBehind?: string[]}
    expect(after.state).to.equal('stopped')
    expect(after.leftBehind?.join(' ')).to.contain('control.sock')
    const started = await dlite(['start', '--timeout', '400'], {timeoutMs: 420_000})
    expect(started.code, started.stderr).to.equal(0)
    const read = await docker(['run', '--rm', '-v', 'kept:/data', 'busybox:local', 'cat', '/data/f'])
    expect(read.stdout.trim()).to.equal('kept')
  })

  it('restart: the VM stops and boots again, docker answers, the imported image is still there', async () => {
    const restarted = await dlite(['restart', '--timeout', '400', '--json'], {timeoutMs: 540_000})
    expect(restarted.code, restarted.stderr).to.equal(0)
    const body = JSON.parse(restarted.stdout)
    expect(body.wasRunning).to.equal(true)
    expect(body.status.state).to.equal('running')
    expect(body.context.outcome).to.equal('already current')
    // the guest's keeper stood down before rc.shutdown stopped dockerd: nothing was started again on the way down
    const before = readFileSync(join(home, 'logs', 'console.previous.log'), 'utf8')
    // a guest kernel that panicked as it booted again (TCG, docs/RELIABILITY.md) was relaunched, and its console
    // is then the previous one: the shutdown's is gone
    if (before.includes('Kernel panic')) console.log('      (the new boot panicked under TCG and was relaunched: the shutdown\'s console was not kept)')
    else expect(before).to.contain('DLITE-STAGE shutdown-done').and.not.contain('started it again')
    const images = await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])
    expect(images.stdout).to.contain('busybox:local')
  })

  it('pause for 60 s, then resume: a container runs on as it was, and 2 s later the guest clock is within 1 s of the host\'s; start lets a paused VM go on too', async () => {
    expect((await docker(['run', '-d', '--name', 'clk', 'busybox:local', 'sleep', '1d'])).code).to.equal(0)
    const startedAt = async () => (await docker(['inspect', '-f', '{{.State.Running}} {{.State.StartedAt}}', 'clk'])).stdout.trim()
    const before = await startedAt()
    try {
      const paused = await dlite(['pause', '--json'])
      expect(paused.code, paused.stderr).to.equal(0)
      const status = JSON.parse(paused.stdout) as {state: string; pausedSince?: number; qemuPid: number}
      expect(status.state).to.equal('paused')
      expect(status.pausedSince).to.be.a('number')
      const cpuTicks = () => readFileSync(`/proc/${status.qemuPid}/stat`, 'utf8').split(') ')[1].split(' ').slice(11, 13).reduce((sum, n) => sum + Number(n), 0)
      const ticksBefore = cpuTicks()
      await sleep(60_000)
      const qemuCpu = (cpuTicks() - ticksBefore) / 100 / 60
      const resumed = await dlite(['resume'])
      expect(resumed.code, resumed.stderr).to.equal(0)
      const resumedAt = Date.now()
      process.stderr.write(`    (QEMU used ${(qemuCpu * 100).toFixed(1)} % of a core while paused)\n`)
      await sleep(resumedAt + 2000 - Date.now())
      const best = await guestClockOffset((args) => docker(['exec', 'clk', ...args]))
      process.stderr.write(`    (2 s after the resume, the guest clock is ${best.offsetMs.toFixed(0)} ± ${best.halfGapMs.toFixed(0)} ms off the host's)\n`)
      expect(Math.abs(best.offsetMs), 'ms between the guest clock and the host\'s').to.be.at.most(1000)
      expect(await startedAt(), 'the container ran on, not started again').to.equal(before)
      expect(readFileSync(join(home, 'logs', 'daemon.log'), 'utf8')).to.contain('guest clock: set from the host (the guest ran again after a pause)')
      // dlite start is what a user may reach for after a pause
      expect((await dlite(['pause'])).code).to.equal(0)
      const started = await dlite(['start'])
      expect(started.code, started.stderr).to.equal(0)
      expect(started.stdout).to.contain('dlite was paused and runs again')
      expect(JSON.parse((await dlite(['status', '--json'])).stdout).state).to.equal('running')
      // resuming a VM that runs changes nothing
      expect((await dlite(['resume'])).code).to.equal(0)
    } finally {
      await docker(['rm', '-f', 'clk'])
    }
  })

  it('config set memory=3 disk=12 mounts=HOME,DIR:ro --restart: the guest sees 3 GiB, a bigger file system and a second, read-only share; an image, a stopped container and a volume are kept', async () => {
    const ok = (r: RunResult) => {
      expect(r.code, r.stderr + r.stdout).to.equal(0)
      return r.stdout.trim()
    }
    ok(await docker(['run', '--rm', '-v', 'kept:/v', 'busybox:local', 'sh', '-c', 'echo in-the-volume > /v/f && sync']))
    ok(await docker(['create', '--name', 'stopped-one', 'busybox:local', 'true']))
    const dataKiB = async () => Number(ok(await docker(['run', '--rm', '-v', 'kept:/v', 'busybox:local', 'df', '-k', '/v'])).split('\n')[1].trim().split(/\s+/)[1])
    const before = await dataKiB()
    readOnly = mkdtempSync(join(tmpdir(), 'dlite-ro-share-'))
    chmodSync(readOnly, 0o755)
    writeFileSync(join(readOnly, 'data.txt'), 'read-only data\n')
    const set = await dlite(['config', 'set', 'memory=3', 'disk=12', `mounts=${user.home},${readOnly}:ro`, '--restart', '--json'], {timeoutMs: 540_000})
    expect(set.code, set.stderr).to.equal(0)
    const body = JSON.parse(set.stdout)
    expect(body.changed.map((c: {name: string}) => c.name)).to.deep.equal(['memory', 'disk', 'mounts'])
    // both shares, each at its host path; the container cannot write to the read-only one
    expect(ok(await docker(['run', '--rm', '-v', `${readOnly}:${readOnly}`, 'busybox:local', 'cat', join(readOnly, 'data.txt')]))).to.equal('read-only data')
    const write = await docker(['run', '--rm', '-v', `${readOnly}:${readOnly}`, 'busybox:local', 'sh', '-c', `echo x > ${readOnly}/new.txt`])
    expect(write.code).to.not.equal(0)
    expect(write.stderr).to.match(/Read-only file system/)
    expect(existsSync(join(readOnly, 'new.txt'))).to.equal(false)
    expect(ok(await docker(['run', '--rm', '-v', `${user.home}:${user.home}`, 'busybox:local', 'cat', join(user.home, 'hello.txt')]))).to.equal('from the host')
    expect(body.restarted.status.state).to.equal('running')
    const memTotal = Number(ok(await docker(['info', '--format', '{{.MemTotal}}'])))
    expect(memTotal / 1024 ** 3, 'GiB the guest sees').to.be.within(2.6, 3)
    const after = await dataKiB()
    expect((after - before) / 1024 ** 2, 'GiB the data file system grew').to.be.within(1.8, 2.1)
    expect(readFileSync(join(home, 'logs', 'daemon.log'), 'utf8')).to.contain('data disk grown to 12 GiB')
    expect(readFileSync(join(home, 'logs', 'console.log'), 'utf8')).to.contain('DLITE-STAGE data-grown')
    expect(ok(await docker(['run', '--rm', '-v', 'kept:/v', 'busybox:local', 'cat', '/v/f']))).to.equal('in-the-volume')
    expect(ok(await docker(['ps', '-a', '--filter', 'name=stopped-one', '--format', '{{.Names}} {{.Status}}']))).to.match(/^stopped-one Created/)
    const refused = await dlite(['config', 'set', 'disk=10'])
    expect(refused.code).to.equal(2)
    expect(refused.stderr).to.match(/cannot shrink below its 12 GiB/)
    ok(await docker(['rm', 'stopped-one']))
  })

  it('a second instance by name: --profile work runs beside the first, list shows both running, each with its own docker', async () => {
    const manifest = join(user.repo, 'os', 'dist', 'manifest.json')
    const installed = await dlite(['install', '--profile', 'work', '--yes', '--os', manifest, '-c', '2', '-m', '1', '-d', '8', '--ssh-key', 'none'])
    expect(installed.code, installed.stderr).to.equal(0)
    const started = await dlite(['start', '--profile', 'work', '--timeout', '400'], {timeoutMs: 420_000})
    expect(started.code, started.stderr).to.equal(0)
    const listed = await dlite(['list', '--json'])
    expect(listed.code, listed.stderr).to.equal(0)
    const instances = JSON.parse(listed.stdout).instances as Array<{profile: string; report: {state: string; home: string; dockerSocket: string; dockerEndpoint: string}}>
    expect(instances.map((i) => [i.profile, i.report.state])).to.deep.equal([['default', 'running'], ['work', 'running']])
    expect(instances[1].report.home).to.equal(join(user.home, '.dlite-profiles', 'work'))
    expect(instances[0].report.dockerSocket).to.not.equal(instances[1].report.dockerSocket)
    expect(instances[0].report.dockerEndpoint).to.not.equal(instances[1].report.dockerEndpoint)
    // the newest start made its context current; each context reaches its own docker
    expect((await plainDocker(['context', 'show'])).stdout.trim()).to.equal('dlite-work')
    for (const context of ['dlite-work', 'dlite']) {
      const version = await plainDocker(['--context', context, 'version', '--format', '{{.Server.Version}}'])
      expect(version.code, `${context}: ${version.stderr}`).to.equal(0)
    }
    const table = await dlite(['list'])
    expect(table.stdout).to.match(/^default\s+running\s+2\s+3 GiB/m).and.match(/^work\s+running\s+2\s+1 GiB/m)
    const removed = await dlite(['uninstall', '--profile', 'work', '--purge', '--yes'], {timeoutMs: 180_000})
    expect(removed.code, removed.stderr).to.equal(0)
    expect(removed.stdout).to.match(/Docker context: dlite-work removed; dlite is current again\./)
    expect((await dlite(['status', '--json'])).stdout).to.match(/"state": "running"/)
  })

  it('status and ip say how the VM is reached; a paused VM is saved, or with --cold stops cleanly; stop and uninstall --purge leave no process behind', async () => {
    const ip = await dlite(['ip'])
    expect(ip.stdout.trim()).to.equal('127.0.0.1')
    const status = await dlite(['status'])
    expect(status.stdout).to.match(/network\s+user-mode/).and.match(/reached at\s+docker tcp:\/\/127\.0\.0\.1:\d+ \(TLS\), ssh 127\.0\.0\.1:\d+/)
    expect((await dlite(['pause'])).code).to.equal(0)
    expect((await dlite(['status'])).stdout).to.match(/state\s+paused since \d\d:\d\d:\d\d \(`dlite resume` lets it go on\)/)
    // a paused VM is saved as it was: it runs again for the guest to let go of its shares, then QEMU saves it
    const saved = await dlite(['stop', '--json'], {timeoutMs: 180_000})
    expect(saved.code, saved.stderr).to.equal(0)
    expect(JSON.parse(saved.stdout).saved, saved.stdout).to.have.property('bytes').above(0)
    expect((await dlite(['start', '--timeout', '400'], {timeoutMs: 420_000})).code).to.equal(0)
    expect((await dlite(['pause'])).code).to.equal(0)
    expect((await dlite(['stop', '--cold'], {timeoutMs: 120_000})).code).to.equal(0)
    // --cold: the guest ran again to power off by itself, not stopped hard
    expect(readFileSync(join(home, 'logs', 'console.log'), 'utf8')).to.contain('DLITE-STAGE shutdown-done')
    const notRunning = await dlite(['pause'])
    expect(notRunning.code).to.equal(1)
    expect(notRunning.stderr).to.contain('dlite is not running').and.contain('dlite start')
    const removed = await dlite(['uninstall', '--purge', '--yes'])
    expect(removed.code, removed.stderr).to.equal(0)
    for (let i = 0; i < 50 && processesMentioning(home).length > 0; i++) await sleep(100)
    expect(processesMentioning(home)).to.deep.equal([])
    expect(removed.stdout).to.match(/Docker context: dlite removed; mine is current again\./)
    expect((await plainDocker(['context', 'show'])).stdout.trim(), 'the context the user had before dlite').to.equal('mine')
  })
})
