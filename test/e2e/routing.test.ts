// dlite-routing end to end, inside a private network namespace (DESIGN.md §5): a conflicting host route is
// refused with nothing changed -> enable -> HTTP 200 from httpd containers at their own IPs on the default
// bridge and on a user-defined network -> VM restart -> still 200 -> a new network and container answer
// without re-running enable -> disable -> unreachable, routes gone. Every route lives in the namespace.
import {expect} from 'chai'
import {mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {busyboxImageTarball} from '../helpers/busybox-image.js'
import {BUILT_OS_MANIFEST, dliteCli, printLogsOnFailure, type CliRunner} from '../helpers/dlite-cli.js'
import {createNetns, type Netns} from '../helpers/netns.js'

const SUBNET = '192.168.64.0/24'
const VM_IP = '192.168.64.2'
const DEFAULT_BRIDGE = '172.17.0.0/16'
const HTTPD = 'mkdir -p /www && echo "served by $HOSTNAME" > /www/index.html && exec /bin/httpd -f -p 80 -h /www'

interface RouteEntry {
  subnet: string
  network?: string
  via: string
}

function log(message: string): void {
  process.stderr.write(`[routing] ${message}\n`)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('dlite routing (e2e, real VM under QEMU)', function () {
  this.timeout(20 * 60_000)
  let ns: Netns
  let dir: string
  let home: string
  let socket: string
  let cli: CliRunner
  let appnetSubnet = ''

  const docker = (args: string[], timeoutMs = 180_000) =>
    ns.run('docker', ['-H', `unix://${socket}`, ...args], {timeoutMs, env: {...process.env, DOCKER_CONFIG: join(dir, 'docker-config')}})
  const dockerOk = async (args: string[]) => {
    const result = await docker(args)
    expect(result.code, `docker ${args.join(' ')}: ${result.stderr}`).to.equal(0)
    return result.stdout.trim()
  }
  const containerIp = (name: string) => dockerOk(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', name])
  const networkSubnet = (name: string) => dockerOk(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}}{{end}}', name])

  /** The namespace's routes through the VM, as `ip` shows them. */
  const routesViaVm = async (): Promise<string[]> => {
    const shown = await ns.run('ip', ['-j', '-4', 'route', 'show'])
    expect(shown.code, shown.stderr).to.equal(0)
    return (JSON.parse(shown.stdout) as Array<{dst: string; gateway?: string}>).filter((r) => r.gateway === VM_IP).map((r) => r.dst).sort()
  }

  /** One HTTP GET from inside the namespace: `200 <body>` or `ERR <code>`, within 3 s. */
  const httpGet = async (url: string): Promise<string> => {
    const got = await ns.run(process.execPath, ['-e', `
      const req = require('http').get(${JSON.stringify(url)}, {timeout: 3000}, (res) => {
        let b = ''; res.on('data', (d) => b += d); res.on('end', () => console.log(res.statusCode, b.trim()))
      })
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), {code: 'TIMEOUT'})))
      req.on('error', (e) => console.log('ERR', e.code || e.message))`], {timeoutMs: 15_000})
    return got.stdout.trim()
  }

  /** Polls until the URL answers 200 or `ms` pass; returns the last answer and how long it took. */
  const waitFor200 = async (url: string, ms: number): Promise<{answer: string; seconds: number}> => {
    const started = Date.now()
    let answer = ''
    while (Date.now() - started < ms) {
      answer = await httpGet(url)
      if (answer.startsWith('200 ')) break
      await sleep(500)
    }
    return {answer, seconds: (Date.now() - started) / 1000}
  }

  const daemonLog = () => {
    try {
      return readFileSync(join(home, 'logs', 'daemon.log'), 'utf8')
    } catch {
      return ''
    }
  }

  before(async () => {
    ns = await createNetns('dlite-route')
    dir = mkdtempSync(join(tmpdir(), 'dlite-routing-e2e-'))
    home = join(dir, 'home')
    socket = join(dir, 'run', 'docker.sock')
    mkdirSync(join(dir, 'share'))
    mkdirSync(join(dir, 'docker-config'))
    cli = dliteCli({DLITE_HOME: home, DOCKER_CONFIG: join(dir, 'docker-config')}, ns)
  })

  after(async () => {
    if (cli) await cli(['stop', '--timeout', '10'], {timeoutMs: 120_000}).catch(() => {})
    await ns?.remove()
    rmSync(dir, {recursive: true, force: true})
  })

  afterEach(printLogsOnFailure(() => home))

  it('installs; before the VM runs, status says routing is off', async () => {
    const install = await cli.json([
      'install', '--yes', '--network', 'bridged', '--os', BUILT_OS_MANIFEST, '-c', '2', '-m', '2', '-d', '10', '--subnet', SUBNET,
      '--share', join(dir, 'share'), '--docker-socket', socket, '--ssh-key', 'none',
    ])
    expect(install.code, install.stderr).to.equal(0)
    const status = await cli.json<{enabled: boolean; vmRunning: boolean; guestRule: string}>(['routing', 'status'])
    expect(status.code, status.stderr).to.equal(0)
    expect(status.body).to.include({enabled: false, vmRunning: false, guestRule: 'not running'})
  })

  it('starts the VM and runs httpd containers on the default bridge and on a user-defined network', async () => {
    const start = await cli(['start', '--timeout', '400'], {timeoutMs: 420_000})
    expect(start.code, start.stderr).to.equal(0)
    await dockerOk(['import', await busyboxImageTarball(dir), 'busybox:local'])
    await dockerOk(['network', 'create', 'appnet'])
    appnetSubnet = await networkSubnet('appnet')
    // --restart always: the containers come back by themselves when the VM restarts
    await dockerOk(['run', '-d', '--name', 'web-default', '--hostname', 'web-default', '--restart', 'always', 'busybox:local', '/bin/sh', '-c', HTTPD])
    await dockerOk(['run', '-d', '--name', 'web-appnet', '--hostname', 'web-appnet', '--network', 'appnet', '--restart', 'always', 'busybox:local', '/bin/sh', '-c', HTTPD])
    expect(appnetSubnet).to.match(/^\d+\.\d+\.\d+\.\d+\/\d+$/)
    expect(await routesViaVm()).to.deep.equal([])
  })

  it('a subnet that conflicts with an existing host route is refused, and nothing is changed', async () => {
    const add = await ns.run('ip', ['route', 'add', 'blackhole', appnetSubnet])
    expect(add.code, add.stderr).to.equal(0)
    try {
      const refused = await cli.json<{error: {message: string}}>(['routing', 'enable'], {timeoutMs: 180_000})
      expect(refused.code).to.equal(1)
      expect(refused.body.error.message).to.contain(`${appnetSubnet} (docker network appnet) overlaps the host route blackhole ${appnetSubnet}`)
      expect(refused.body.error.message).to.contain('Nothing was changed')
      expect(await routesViaVm()).to.deep.equal([])
      const status = await cli.json<{enabled: boolean; guestRule: string}>(['routing', 'status'], {timeoutMs: 120_000})
      expect(status.body).to.include({enabled: false, guestRule: 'absent'})
    } finally {
      await ns.run('ip', ['route', 'del', 'blackhole', appnetSubnet])
    }
  })

  it('enable: HTTP 200 from the containers\' own IPs on the default bridge and on the user-defined network', async () => {
    const started = Date.now()
    const {code, body, stderr} = await cli.json<{enabled: boolean; applied: string; routes: RouteEntry[]; guestRule: {parent: string; nic: string}}>(['routing', 'enable'], {timeoutMs: 180_000})
    log(`enable took ${((Date.now() - started) / 1000).toFixed(1)} s (guest rule over ssh under TCG included)`)
    expect(code, stderr).to.equal(0)
    expect(body.applied).to.equal('now')
    expect(body.routes.map((r) => `${r.subnet} ${r.network} ${r.via}`).sort()).to.deep.equal([`${DEFAULT_BRIDGE} bridge ${VM_IP}`, `${appnetSubnet} appnet ${VM_IP}`].sort())
    expect(body.guestRule).to.deep.equal({parent: 'DOCKER-USER', nic: 'eth0'})
    expect(await routesViaVm()).to.deep.equal([DEFAULT_BRIDGE, appnetSubnet].sort())
    for (const name of ['web-default', 'web-appnet']) {
      const {answer} = await waitFor200(`http://${await containerIp(name)}/`, 30_000)
      expect(answer, name).to.equal(`200 served by ${name}`)
    }
  })

  it('status: enabled, following docker events, the guest rule present, and the live check answered', async () => {
    const {code, body} = await cli.json<{enabled: boolean; watching: boolean; guestRule: string; routes: RouteEntry[]; liveCheck: {reachable: boolean; results: Array<{container: string; answered: boolean; outcome: string}>}}>(['routing', 'status'], {timeoutMs: 120_000})
    expect(code).to.equal(0)
    expect(body).to.include({enabled: true, watching: true, guestRule: 'present'})
    expect(body.routes).to.have.length(2)
    expect(body.liveCheck.reachable).to.equal(true)
    expect(body.liveCheck.results.map((r) => `${r.container} ${r.outcome}`).sort()).to.deep.equal(['web-appnet open', 'web-default open'])
    const text = await cli(['routing', 'status'], {timeoutMs: 120_000})
    expect(text.code, text.stderr).to.equal(0)
    expect(text.stdout).to.contain('Routing: enabled')
    expect(text.stdout).to.match(/web-default 172\.17\.\d+\.\d+:80 on bridge: answered \(port open\)/)
  })

  it('restart the VM (stop + start): routes go with it and come back; still HTTP 200', async () => {
    const stop = await cli(['stop'], {timeoutMs: 120_000})
    expect(stop.code, stop.stderr).to.equal(0)
    expect(await routesViaVm()).to.deep.equal([])
    expect(daemonLog()).to.match(/dlite-routing: removed routes /)
    const started = Date.now()
    const start = await cli(['start', '--timeout', '400'], {timeoutMs: 420_000})
    expect(start.code, start.stderr).to.equal(0)
    // the vm-ready hook ran before `start` returned
    expect(await routesViaVm()).to.deep.equal([DEFAULT_BRIDGE, appnetSubnet].sort())
    for (const name of ['web-default', 'web-appnet']) {
      const {answer, seconds} = await waitFor200(`http://${await containerIp(name)}/`, 90_000)
      log(`${name} answered ${seconds.toFixed(1)} s after start returned (${((Date.now() - started) / 1000).toFixed(1)} s after start began)`)
      expect(answer, name).to.equal(`200 served by ${name}`)
    }
  })

  it('a new network and container are reachable within seconds, without re-running enable', async () => {
    const began = Date.now()
    await dockerOk(['network', 'create', 'laternet'])
    const returned = Date.now()
    const subnet = await networkSubnet('laternet')
    let routedAt = 0
    while (Date.now() - returned < 15_000) {
      if ((await routesViaVm()).includes(subnet)) {
        routedAt = Date.now()
        break
      }
      await sleep(100)
    }
    log(`route to ${subnet} (laternet) present ${((routedAt - returned) / 1000).toFixed(2)} s after \`docker network create\` returned ` +
      `(${((routedAt - began) / 1000).toFixed(2)} s after it began)`)
    expect(routedAt, 'the route appeared within 15 s').to.be.above(0)
    const runAt = Date.now()
    await dockerOk(['run', '-d', '--name', 'web-later', '--hostname', 'web-later', '--network', 'laternet', 'busybox:local', '/bin/sh', '-c', HTTPD])
    const {answer, seconds} = await waitFor200(`http://${await containerIp('web-later')}/`, 30_000)
    log(`web-later answered ${seconds.toFixed(1)} s after \`docker run\` returned (${((Date.now() - runAt) / 1000).toFixed(1)} s after it began)`)
    expect(answer).to.equal('200 served by web-later')
  })

  it('removing a network removes its route', async () => {
    await dockerOk(['rm', '-f', 'web-later'])
    const subnet = await networkSubnet('laternet')
    await dockerOk(['network', 'rm', 'laternet'])
    const removedAt = Date.now()
    while (Date.now() - removedAt < 15_000 && (await routesViaVm()).includes(subnet)) await sleep(100)
    log(`route to ${subnet} gone ${((Date.now() - removedAt) / 1000).toFixed(2)} s after \`docker network rm\` returned`)
    expect(await routesViaVm()).to.deep.equal([DEFAULT_BRIDGE, appnetSubnet].sort())
  })

  it('disable: the containers are unreachable, the routes and the guest rule are gone; disable again is fine', async () => {
    const ips = [await containerIp('web-default'), await containerIp('web-appnet')]
    const {code, body, stderr} = await cli.json<{enabled: boolean; removedRoutes: string[]; guestRuleRemoved: boolean}>(['routing', 'disable'], {timeoutMs: 180_000})
    expect(code, stderr).to.equal(0)
    expect(body.removedRoutes.sort()).to.deep.equal([DEFAULT_BRIDGE, appnetSubnet].sort())
    expect(body.guestRuleRemoved).to.equal(true)
    expect(await routesViaVm()).to.deep.equal([])
    for (const ip of ips) expect(await httpGet(`http://${ip}/`), ip).to.match(/^ERR /)
    const status = await cli.json<{enabled: boolean; watching: boolean; guestRule: string; routes: RouteEntry[]; liveCheck: {reachable: boolean | null}}>(['routing', 'status'], {timeoutMs: 120_000})
    expect(status.body).to.deep.include({enabled: false, watching: false, guestRule: 'absent', routes: []})
    expect(status.body.liveCheck.reachable).to.equal(null)
    const again = await cli.json<{removedRoutes: string[]}>(['routing', 'disable'], {timeoutMs: 180_000})
    expect(again.code, again.stderr).to.equal(0)
    expect(again.body.removedRoutes).to.deep.equal([])
    // a network created now gets no route: nothing follows docker's events any more
    await dockerOk(['network', 'create', 'quietnet'])
    await sleep(2000)
    expect(await routesViaVm()).to.deep.equal([])
  })
})
