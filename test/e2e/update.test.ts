// `dlite update` end to end: v1 -> v2 keeps containers; a v3 that never becomes ready rolls back to v2 by
// itself (exit 1, docker answers); a manifest with a wrong sha256 changes nothing; --rollback goes back.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {busyboxImageTarball} from '../helpers/busybox-image.js'
import {BUILT_OS_MANIFEST, dliteCli, printLogsOnFailure, REPO, type CliRunner} from '../helpers/dlite-cli.js'
import {createNetns, type Netns} from '../helpers/netns.js'

interface Status {
  state: string
  image: {version: string; rollbackAvailable: boolean; previous?: string}
}

function buildImage(out: string, extra: string[]): string {
  execFileSync('npm', ['run', '--silent', 'os:build', '--', '--out', out, ...extra], {cwd: REPO, stdio: ['ignore', 'ignore', 'inherit']})
  return join(out, 'manifest.json')
}

describe('dlite update (e2e, real VM under QEMU)', function () {
  this.timeout(30 * 60_000)
  let ns: Netns
  let dir: string
  let home: string
  let socket: string
  let cli: CliRunner
  let v1: string
  const manifests: Record<'v2' | 'v3' | 'bad', string> = {v2: '', v3: '', bad: ''}
  const docker = (args: string[]) =>
    ns.run('docker', ['-H', `unix://${socket}`, ...args], {timeoutMs: 180_000, env: {...process.env, DOCKER_CONFIG: join(dir, 'docker-config')}})
  const status = async () => (await cli.json<Status>(['status'])).body

  before(async function () {
    this.timeout(20 * 60_000)
    dir = mkdtempSync(join(tmpdir(), 'dlite-update-'))
    home = join(dir, 'home')
    socket = join(dir, 'run', 'docker.sock')
    mkdirSync(join(dir, 'docker-config'))
    v1 = JSON.parse(readFileSync(BUILT_OS_MANIFEST, 'utf8')).version
    // Variants of the built image: the builder reuses its cached base, so each takes seconds.
    manifests.v2 = buildImage(join(dir, 'img-v2'), ['--version', '0.2.0-e2e'])
    manifests.v3 = buildImage(join(dir, 'img-v3'), ['--version', '0.3.0-e2e-broken', '--broken'])
    // v2's files under another version with one checksum wrong: must be refused before anything changes.
    cpSync(join(dir, 'img-v2'), join(dir, 'img-bad'), {recursive: true})
    const bad = JSON.parse(readFileSync(manifests.v2, 'utf8'))
    bad.version = '0.4.0-e2e-badsum'
    bad.files[bad.files.length - 1].sha256 = '0'.repeat(64)
    manifests.bad = join(dir, 'img-bad', 'manifest.json')
    writeFileSync(manifests.bad, JSON.stringify(bad, null, 2))

    ns = await createNetns('dlite-upd')
    cli = dliteCli({DLITE_HOME: home, DOCKER_CONFIG: join(dir, 'docker-config')}, ns)
    const installed = await cli(['install', '--yes', '--network', 'bridged', '--os', BUILT_OS_MANIFEST, '-c', '2', '-m', '2', '-d', '10',
      '--share', dir, '--docker-socket', socket, '--ssh-key', 'none'])
    expect(installed.code, installed.stderr).to.equal(0)
    const started = await cli(['start', '--timeout', '400'], {timeoutMs: 420_000})
    expect(started.code, started.stderr).to.equal(0)
    expect((await docker(['import', await busyboxImageTarball(dir), 'busybox:local'])).code).to.equal(0)
    expect((await docker(['create', '--name', 'keep-me', 'busybox:local', '/bin/true'])).code).to.equal(0)
  })

  afterEach(printLogsOnFailure(() => home))

  after(async () => {
    if (cli) await cli(['stop', '--timeout', '5']).catch(() => {})
    await ns?.remove()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('the same version again: already installed, exit 0', async () => {
    const {code, body} = await cli.json<{action: string}>(['update', '--os', BUILT_OS_MANIFEST, '--yes'])
    expect(code).to.equal(0)
    expect(body.action).to.equal('already-installed')
  })

  it('a running VM is not restarted without --yes when nobody can be asked', async () => {
    const result = await cli(['update', '--os', manifests.v2])
    expect(result.code).to.equal(2)
    expect(result.stderr).to.contain('--yes')
    expect((await status()).image.version).to.equal(v1)
  })

  it('v1 -> v2: restarts on the new image, the container survives, rollback is offered', async () => {
    const {code, body, stderr} = await cli.json<{action: string; to: string; restarted: boolean}>(
      ['update', '--os', manifests.v2, '--yes', '--timeout', '400'], {timeoutMs: 600_000})
    expect(code, stderr).to.equal(0)
    expect(body).to.include({action: 'updated', to: '0.2.0-e2e', restarted: true})
    const now = await status()
    expect(now.state).to.equal('running')
    expect(now.image).to.deep.include({version: '0.2.0-e2e', rollbackAvailable: true, previous: v1})
    const containers = await docker(['ps', '-a', '--format', '{{.Names}}'])
    expect(containers.stdout).to.contain('keep-me')
  })

  it('a v3 that never becomes ready is rolled back to v2 by itself: exit 1, docker answers', async () => {
    const result = await cli(['update', '--os', manifests.v3, '--yes', '--timeout', '90'], {timeoutMs: 900_000})
    expect(result.code, result.stdout).to.equal(1)
    expect(result.stderr).to.match(/0\.3\.0-e2e-broken did not become ready/)
    expect(result.stderr).to.match(/rolled back to 0\.2\.0-e2e/)
    expect(result.stderr).to.contain(join(home, 'logs'))
    const now = await status()
    expect(now.state).to.equal('running')
    expect(now.image.version).to.equal('0.2.0-e2e')
    expect((await docker(['version'])).code).to.equal(0)
    expect((await docker(['ps', '-a', '--format', '{{.Names}}'])).stdout).to.contain('keep-me')
  })

  it('a manifest with a wrong sha256 is refused and nothing changes', async () => {
    const before = await status()
    const result = await cli(['update', '--os', manifests.bad, '--yes'], {timeoutMs: 300_000})
    expect(result.code).to.equal(1)
    expect(result.stderr).to.match(/sha256/)
    const after = await status()
    expect(after.image).to.deep.equal(before.image)
    expect(after.state).to.equal('running')
    expect(readdirSync(join(home, 'images'))).to.not.include('0.4.0-e2e-badsum')
    expect(existsSync(join(home, 'images', '0.2.0-e2e'))).to.equal(true)
  })

  it('--rollback switches back to the previous image explicitly', async () => {
    const before = await status()
    const {code, body, stderr} = await cli.json<{action: string; to: string}>(['update', '--rollback', '--yes', '--timeout', '400'], {timeoutMs: 600_000})
    expect(code, stderr).to.equal(0)
    expect(body).to.include({action: 'rolled-back', to: before.image.previous})
    const after = await status()
    expect(after.state).to.equal('running')
    expect(after.image.version).to.equal(before.image.previous)
    expect((await docker(['ps', '-a', '--format', '{{.Names}}'])).stdout).to.contain('keep-me')
  })
})
