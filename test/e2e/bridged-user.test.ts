// A bridged VM run as the user (issue: "privilege kept small"), the way a new user meets it, inside a private
// network namespace: root's part once (`sudo dlite network setup`, as the test runs it: root with SUDO_UID), then
// as the user, no sudo: install, start, the VM's name in /etc/hosts answering a published port, `dlite routing
// enable` and a container's own IP answering from the host, `dlite dns enable` (a plugin the user installed)
// answering web.busybox.docker on the bridge's port 53, which the helper bound. The process table shows the root
// helper as the only root process of the VM. Attacks: another user at the helper's socket, the owner asking for
// a public route, a resolver file for another domain or a verb the helper does not have. Stop takes the bridge
// down through the helper; `network remove` undoes setup.
import {expect} from 'chai'
import {chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {homeId} from '../../src/network/names.js'
import {busyboxImageTarball} from '../helpers/busybox-image.js'
import {printLogsOnFailure, REPO} from '../helpers/dlite-cli.js'
import {processesMentioning, uidsOf} from '../helpers/processes.js'
import {createNetns, runCommand, type Netns, type RunResult} from '../helpers/netns.js'
import {createTestUser, type TestUser} from '../helpers/test-user.js'

const HTTPD = 'mkdir -p /www && echo "served by $HOSTNAME" > /www/index.html && exec /bin/httpd -f -p 80 -h /www'
const SUBNET = '192.168.64.0/24'
const VM_IP = '192.168.64.2'
const HOST_IP = '192.168.64.1'
const DIG = join(REPO, 'plugins', 'dns', 'test', 'helpers', 'dig.ts')

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('a bridged VM run as the user, through the root helper (e2e, real VM under QEMU)', function () {
  this.timeout(15 * 60_000)
  let ns: Netns
  let user: TestUser
  let systemDir: string
  /** The user's plugins (dlite-dns, installed from its tarball) and where the helper writes resolver files. */
  let dataDir: string
  let resolverDir: string
  let home: string
  let id: string
  let cli: string
  let dlite: (args: string[], opts?: {timeoutMs?: number}) => Promise<RunResult>
  let docker: (args: string[]) => Promise<RunResult>
  /** The CLI as root would run it under `sudo` for this user. */
  let sudoDlite: (args: string[]) => Promise<RunResult>

  const nodeAsUser = (script: string) => user.run(ns, process.execPath, ['-e', script], {timeoutMs: 20_000, env: {DLITE_SYSTEM_DIR: systemDir}})
  const httpGet = (url: string) => nodeAsUser(`
    const req = require('http').get(${JSON.stringify(url)}, {timeout: 3000}, (res) => { let b = ''; res.on('data', (d) => b += d); res.on('end', () => console.log(res.statusCode, b.trim())) })
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), {code: 'TIMEOUT'})))
    req.on('error', (e) => console.log('ERR', e.code || e.message))`)
  const waitFor200 = async (url: string, ms: number): Promise<string> => {
    const deadline = Date.now() + ms
    let answer = ''
    while (Date.now() < deadline) {
      answer = (await httpGet(url)).stdout.trim()
      if (answer.startsWith('200 ')) break
      await sleep(500)
    }
    return answer
  }
  /** One raw request to the helper's socket as `as` would send it: the answer line, or the connect error's code. */
  const askHelper = (as: TestUser, request: string) => as.run(ns, process.execPath, ['-e', `
    const s = require('net').connect(${JSON.stringify(join(systemDir, 'run', 'helper', `${id}.sock`))}, () => s.write(${JSON.stringify(`${request}\n`)}))
    let b = ''; s.on('data', (d) => b += d); s.on('end', () => console.log(b.trim()))
    s.on('error', (e) => console.log('ERR', e.code))`], {timeoutMs: 20_000})

  before(async () => {
    ns = await createNetns('dlite-bu')
    user = createTestUser()
    home = join(user.home, '.dlite')
    id = homeId(home)
    cli = join(user.repo, 'bin', 'run.js')
    // root's directories for the helper (DLITE_SYSTEM_DIR moves /etc/dlite, /run/dlite and /var/log/dlite)
    systemDir = mkdtempSync(join(tmpdir(), 'dlite-system-'))
    chmodSync(systemDir, 0o755)
    resolverDir = join(systemDir, 'resolver')
    dataDir = join(user.home, 'dlite-data')
    const env = {DLITE_SYSTEM_DIR: systemDir, DLITE_DATA_DIR: dataDir}
    dlite = (args, opts = {}) => user.run(ns, process.execPath, [cli, ...args], {timeoutMs: opts.timeoutMs ?? 120_000, env})
    docker = (args) => user.run(ns, 'docker', ['-H', `unix://${join(home, 'docker.sock')}`, ...args], {timeoutMs: 180_000})
    sudoDlite = (args) => ns.run(process.execPath, [cli, ...args], {
      timeoutMs: 120_000,
      // the helper inherits this environment: its resolver files go to a temp dir, never /etc
      env: {...process.env, DLITE_SYSTEM_DIR: systemDir, DLITE_DNS_RESOLVER_DIR: resolverDir, SUDO_UID: String(user.uid), SUDO_GID: String(user.gid), SUDO_USER: user.name, DLITE_HOME: '', DLITE_PROFILE: ''},
    })
  })

  after(async () => {
    if (dlite) await dlite(['stop', '--timeout', '5']).catch(() => {})
    if (sudoDlite) await sudoDlite(['network', 'remove']).catch(() => {})
    await ns?.remove()
    user?.remove()
    if (systemDir) rmSync(systemDir, {recursive: true, force: true})
  })

  afterEach(printLogsOnFailure(() => home))

  it('without the root part, a user\'s bridged install is refused and names it; nothing is written', async () => {
    const refused = await dlite(['install', '--yes', '--network', 'bridged', '--os', join(user.repo, 'os', 'dist', 'manifest.json'), '--json'])
    expect(refused.code).to.equal(2)
    expect(JSON.parse(refused.stdout).error.message).to.contain('sudo dlite network setup')
    expect(existsSync(home)).to.equal(false)
  })

  it('a sudo install the user\'s install refuses (a bad flag) takes back the registration it made: nothing is left', async () => {
    const refused = await sudoDlite(['install', '--yes', '--network', 'bridged', '--os', join(user.repo, 'os', 'dist', 'manifest.json'), '--cpus', '999', '--json'])
    expect(refused.code, refused.stdout).to.equal(2)
    expect(JSON.parse(refused.stdout).error.message).to.contain('--cpus')
    expect(existsSync(join(systemDir, 'etc', 'helper', `${id}.json`))).to.equal(false)
    expect(existsSync(home)).to.equal(false)
    for (let i = 0; i < 20 && processesMentioning(` helper ${id}`).length > 0; i++) await sleep(100)
    expect(processesMentioning(` helper ${id}`)).to.deep.equal([])
  })

  it('sudo dlite network setup: a root-owned registration and a root helper serving the user on a 0660 socket of root\'s', async () => {
    const setup = await sudoDlite(['network', 'setup', '--json'])
    expect(setup.code, setup.stderr + setup.stdout).to.equal(0)
    const result = JSON.parse(setup.stdout) as {registration: {owner: {uid: number}; subnet: string; home: string}; runsAs: string; started: boolean}
    expect(result.registration).to.deep.include({home, subnet: SUBNET, owner: {uid: user.uid, gid: user.gid}})
    expect(result).to.include({runsAs: 'process', started: true})
    const registration = statSync(join(systemDir, 'etc', 'helper', `${id}.json`))
    expect({uid: registration.uid, mode: registration.mode & 0o777}).to.deep.equal({uid: 0, mode: 0o644})
    const socket = statSync(join(systemDir, 'run', 'helper', `${id}.sock`))
    expect({uid: socket.uid, gid: socket.gid, mode: socket.mode & 0o777}).to.deep.equal({uid: 0, gid: user.gid, mode: 0o660})
  })

  it('the user installs dlite-dns, their own plugin, from its tarball', async () => {
    // the user's own plugin, from its packed tarball
    const packed = await runCommand('npm', ['pack', '-w', 'dlite-dns', '--pack-destination', systemDir], {cwd: REPO, timeoutMs: 300_000})
    expect(packed.code, packed.stderr).to.equal(0)
    const {version} = JSON.parse(readFileSync(join(REPO, 'plugins', 'dns', 'package.json'), 'utf8')) as {version: string}
    // installed by the user, into their own data directory (outside the namespace: npm fetches what its cache lacks)
    const installed = await user.runOutside(process.execPath, [cli, 'plugins', 'install', `file:${join(systemDir, `dlite-dns-${version}.tgz`)}`], {timeoutMs: 300_000, env: {DLITE_DATA_DIR: dataDir, ...user.npmCacheFirst()}})
    expect(installed.code, installed.stderr + installed.stdout).to.equal(0)
    expect(statSync(join(dataDir, 'node_modules', 'dlite-dns')).uid).to.equal(user.uid)
  })

  it('sudo dlite install --network bridged: root\'s part again (the helper already runs), then the install as the user', async () => {
    const installed = await sudoDlite(['install', '--yes', '--network', 'bridged', '--os', join(user.repo, 'os', 'dist', 'manifest.json'), '-c', '2', '-m', '2', '-d', '10', '--ssh-key', 'none', '--json'])
    expect(installed.code, installed.stderr + installed.stdout).to.equal(0)
    const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'))
    expect(config).to.include({network: 'bridged', subnet: SUBNET, hostname: 'local.docker', dockerSocket: join(home, 'docker.sock')})
    expect(config.owner).to.include({uid: user.uid})
    // the install ran as the user: nothing in the home is root's
    for (const name of ['', 'config.json', 'disk.img', 'keys', 'tls', 'images']) expect(statSync(join(home, name)).uid, name || 'the home').to.equal(user.uid)
    expect(processesMentioning(` helper ${id}`), 'still one helper').to.have.length(1)
  })

  it('starts as the user, no sudo: the daemon and QEMU are the user\'s, the helper is the only root process', async () => {
    const started = await dlite(['start', '--timeout', '400', '--json'], {timeoutMs: 420_000})
    expect(started.code, started.stderr + started.stdout).to.equal(0)
    const {status} = JSON.parse(started.stdout)
    expect(status).to.include({state: 'running', network: 'bridged', ip: VM_IP})
    const mine = processesMentioning(home)
    expect(mine.some((p) => p.cmd.includes('qemu-system'))).to.equal(true)
    const asRoot = mine.filter((p) => p.uids.includes(0))
    // the helper's command line names the home id, not the home: nothing of the user's VM runs as root
    expect(asRoot.map((p) => p.cmd), 'root processes of the VM').to.deep.equal([])
    for (const p of mine) expect(p.uids, p.cmd).to.deep.equal([user.uid, user.uid, user.uid, user.uid])
    const helpers = processesMentioning(` helper ${id}`)
    expect(helpers, 'the root helper').to.have.length(1)
    expect(helpers[0].uids).to.deep.equal([0, 0, 0, 0])
    // what asking the helper costs a start: the network stage (network-up and tap-open over the socket)
    const log = readFileSync(join(home, 'logs', 'daemon.log'), 'utf8')
    const at = (what: string) => Date.parse(new RegExp(`^(\\S+) stage network ${what}`, 'm').exec(log)?.[1] ?? '')
    process.stderr.write(`      [bridged-user] network stage through the root helper: ${at('done') - at('start')} ms\n`)
    // the tap QEMU holds came from the helper: the user could not have opened /dev/net/tun
    // a user's default home has names of its own, never root's dlite0
    const link = await ns.run('ip', ['-o', 'link', 'show', 'master', `dlbr-${id}`])
    expect(link.stdout).to.contain(`dltap-${id}`)
    expect(readFileSync(ns.hostsFile, 'utf8')).to.match(new RegExp(`^${VM_IP.replaceAll('.', '\\.')}\\s+local\\.docker\\s+# added by dlite`, 'm'))
  })

  it('docker works through the user\'s socket; a published port answers at local.docker, the VM\'s name', async () => {
    expect((await docker(['import', await busyboxImageTarball(user.home), 'busybox:local'])).code).to.equal(0)
    const run = await docker(['run', '-d', '--name', 'web', '--hostname', 'web', '-p', '8080:80', 'busybox:local', '/bin/sh', '-c', HTTPD])
    expect(run.code, run.stderr).to.equal(0)
    expect(await waitFor200('http://local.docker:8080/', 60_000)).to.equal('200 served by web')
  })

  it('dlite routing enable as the user: the helper adds the route, and the container answers at its own IP', async () => {
    const enabled = await dlite(['routing', 'enable', '--json'], {timeoutMs: 180_000})
    expect(enabled.code, enabled.stderr + enabled.stdout).to.equal(0)
    const ip = (await docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', 'web'])).stdout.trim()
    expect(await waitFor200(`http://${ip}/`, 30_000)).to.equal('200 served by web')
    const routes = await ns.run('ip', ['-4', 'route', 'show', 'via', VM_IP])
    expect(routes.stdout).to.contain('172.17.0.0/16')
    expect(readFileSync(join(systemDir, 'log', `helper-${id}.log`), 'utf8')).to.match(new RegExp(`uid ${user.uid} pid \\d+: route-add "172\\.17\\.0\\.0/16": done`))
  })

  it('dlite dns enable as the user: a plugin the user installed serves web.busybox.docker on port 53 of the bridge, bound by the helper', async () => {
    const enabled = await dlite(['dns', 'enable', '--resolver', 'macos', '--json'], {timeoutMs: 180_000})
    expect(enabled.code, enabled.stderr + enabled.stdout).to.equal(0)
    const {status} = JSON.parse(enabled.stdout) as {status: {serving: boolean; listening: string[]; resolver: {mode: string; files: string[]}}}
    expect(status).to.include({serving: true})
    expect(status.listening).to.deep.equal([`${HOST_IP}:53`])
    // the helper wrote the resolver file (root's, in its temp dir), for the registered domain
    expect(status.resolver).to.deep.include({mode: 'macos', files: [join(resolverDir, 'docker')]})
    expect(statSync(join(resolverDir, 'docker')).uid).to.equal(0)
    expect(readFileSync(join(resolverDir, 'docker'), 'utf8')).to.match(/^# added by dlite-dns.*\nnameserver 192\.168\.64\.1\nport 53\n$/)
    const ip = (await docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', 'web'])).stdout.trim()
    let answer: {addresses?: string[]} = {}
    for (let i = 0; i < 50 && answer.addresses?.[0] !== ip; i++) {
      const dug = await ns.run(process.execPath, ['--import', 'tsx', DIG, HOST_IP, '53', 'web.busybox.docker', 'A', 'udp'], {cwd: REPO, timeoutMs: 30_000})
      answer = JSON.parse(dug.stdout.trim().split('\n').at(-1) ?? '{}') as {addresses?: string[]}
      if (answer.addresses?.[0] !== ip) await sleep(100)
    }
    expect(answer.addresses).to.deep.equal([ip])
    // who holds port 53: the user's daemon, which runs the plugin's code — not root
    const holders = await ns.run('ss', ['-H', '-ulpn', 'sport', '=', ':53'])
    const pids = [...holders.stdout.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]))
    expect(pids.length, holders.stdout).to.be.above(0)
    for (const pid of pids) expect(uidsOf(pid), `pid ${pid}`).to.deep.equal([user.uid, user.uid, user.uid, user.uid])
  })

  it('the owner cannot make the helper write a resolver file for another domain', async () => {
    expect((await askHelper(user, '{"verb":"resolver-write","domain":"github.com","mode":"macos"}')).stdout).to.match(/"ok":false.*for \.docker only/)
    expect(readdirSync(resolverDir)).to.deep.equal(['docker'])
  })

  it('the owner cannot make the helper route public space, nor use a verb it does not have; each refusal is logged', async () => {
    expect((await askHelper(user, '{"verb":"route-add","subnet":"1.1.1.0/24"}')).stdout).to.match(/"ok":false.*only private \(RFC 1918\)/)
    expect((await askHelper(user, '{"verb":"route-add","subnet":"10.0.0.0/7"}')).stdout).to.match(/"ok":false.*only private/)
    expect((await askHelper(user, '{"verb":"exec","argv":["/bin/sh"]}')).stdout).to.match(/"ok":false.*unknown verb/)
    const routes = await ns.run('ip', ['-4', 'route', 'show', '1.1.1.0/24'])
    expect(routes.stdout.trim()).to.equal('')
    const log = readFileSync(join(systemDir, 'log', `helper-${id}.log`), 'utf8')
    expect(log).to.match(/refused uid \d+ pid \d+: route-add "1\.1\.1\.0\/24"/)
    expect(log).to.match(/refused uid \d+ pid \d+: unknown verb "exec"/)
  })

  it('another local user cannot use the helper: the socket refuses them, and a member of the owner\'s group is refused by uid', async () => {
    const other = createTestUser()
    try {
      expect((await askHelper(other, '{"verb":"network-down"}')).stdout.trim()).to.equal('ERR EACCES')
      // the same user joined to the owner's group gets through the file mode, and is refused by its peer uid
      await ns.run('usermod', ['-a', '-G', user.name, other.name])
      const asMember = await askHelper(other, '{"verb":"network-down"}')
      expect(asMember.stdout).to.match(/"ok":false.*serves uid/)
      expect((await ns.run('ip', ['link', 'show', `dlbr-${id}`])).code, 'the bridge is still up').to.equal(0)
    } finally {
      other.remove()
    }
  })

  it('dns disable as the user: the helper removes the resolver file it wrote', async () => {
    const disabled = await dlite(['dns', 'disable', '--json'], {timeoutMs: 180_000})
    expect(disabled.code, disabled.stderr + disabled.stdout).to.equal(0)
    expect(JSON.parse(disabled.stdout).removed).to.deep.equal([join(resolverDir, 'docker')])
    expect(readdirSync(resolverDir)).to.deep.equal([])
  })

  it('stop, as the user: the helper takes the bridge, NAT and hosts line down; network remove undoes setup', async () => {
    const stopped = await dlite(['stop', '--json'], {timeoutMs: 180_000})
    expect(stopped.code, stopped.stderr).to.equal(0)
    expect((await ns.run('ip', ['link', 'show', `dlbr-${id}`])).code).to.not.equal(0)
    expect(readFileSync(ns.hostsFile, 'utf8')).to.not.contain('local.docker')
    const removed = await sudoDlite(['network', 'remove', '--json'])
    expect(removed.code, removed.stderr + removed.stdout).to.equal(0)
    expect(existsSync(join(systemDir, 'etc', 'helper', `${id}.json`))).to.equal(false)
    for (let i = 0; i < 20 && processesMentioning(` helper ${id}`).length > 0; i++) await sleep(100)
    expect(processesMentioning(` helper ${id}`)).to.deep.equal([])
    const start = await dlite(['start', '--json'])
    expect(start.code).to.equal(1)
    expect(JSON.parse(start.stdout).error.message).to.contain('not registered with it')
  })

  it('config set network=user: the same VM, its disk and containers, starts with no helper at all', async () => {
    const set = await dlite(['config', 'set', 'network=user', '--json'])
    expect(set.code, set.stderr + set.stdout).to.equal(0)
    const started = await dlite(['start', '--timeout', '400', '--json'], {timeoutMs: 420_000})
    expect(started.code, started.stderr + started.stdout).to.equal(0)
    expect(JSON.parse(started.stdout).status).to.include({network: 'user', ip: '127.0.0.1'})
    const ps = await docker(['ps', '-a', '--format', '{{.Names}}'])
    expect(ps.stdout.split('\n')).to.include('web')
    expect((await dlite(['stop', '--json'], {timeoutMs: 180_000})).code).to.equal(0)
  })
})
