// Where `dlite install` finds its OS image without --os, run through the real CLI (the compiled dist): a copy of
// the CLI package without os/dist stands for an installed dlite, the checkout itself for a checkout. And
// `dlite os build`: --help, the refusal for a non-root user, and a run as root with a stand-in for the builder
// (the real os/build.js needs mmdebstrap, a Debian mirror and a minute; it is run by `npm run os:build`).
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {
  chmodSync, chownSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync,
  symlinkSync, writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {BUILT_OS_MANIFEST, CLI, REPO} from '../helpers/dlite-cli.js'
import {runCommand, type RunResult} from '../helpers/netns.js'
import {GUEST_CONTRACT} from '../../src/guest/contract.js'

/** An error as one string: oclif hard-wraps it at 80 columns behind " ›   ". */
const unwrap = (text: string) => text.replace(/\n › {3}/g, '')
const NOBODY = 65534

// Stands in for os/build.js: writes a tiny image where --out says, prints progress on stderr and a tool's chatter
// on stdout (which --json must keep off stdout), or fails when asked.
const FAKE_BUILDER = `
import {createHash} from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
const out = process.argv[process.argv.indexOf('--out') + 1]
console.error('[os:build] stand-in builder: ' + process.argv.slice(2).join(' '))
console.log('chatter of a build tool on stdout')
if (process.env.FAKE_BUILD_FAIL) process.exit(3)
fs.mkdirSync(out, {recursive: true})
const files = ['vmlinuz', 'initrd.img', 'root.img'].map((name) => {
  const data = 'stand-in ' + name + '\\n'
  fs.writeFileSync(path.join(out, name), data)
  return {name, size: data.length, sha256: createHash('sha256').update(data).digest('hex')}
})
fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify({schema: 1, version: '0.0.0-standin', arch: 'x86_64',
  kernel: {version: '6.12'}, docker: {version: '26.1'}, contract: ${GUEST_CONTRACT}, files}))
`

/** What npm would install of this package: the `files` package.json lists, package.json, node_modules linked. */
function copyPackage(to: string): void {
  const {files} = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {files: string[]}
  for (const name of files) {
    mkdirSync(dirname(join(to, name)), {recursive: true})
    cpSync(join(REPO, name), join(to, name), {recursive: true})
  }
  copyFileSync(join(REPO, 'package.json'), join(to, 'package.json'))
  symlinkSync(realpathSync(join(REPO, 'node_modules')), join(to, 'node_modules'))
}

describe('dlite install: the OS image without --os', function () {
  this.timeout(120_000)
  let dir: string
  let copy: string
  let data: string
  let share: string
  let n = 0

  /** A copy of the CLI package as npm installs it (package.json's `files`: no os/dist). */
  const copyCli = (to: string, packageJson?: (pj: Record<string, unknown>) => void) => {
    copyPackage(to)
    const pj = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as Record<string, unknown>
    packageJson?.(pj)
    writeFileSync(join(to, 'package.json'), JSON.stringify(pj, null, 2))
    return join(to, 'bin', 'run.js')
  }
  const run = (cli: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> =>
    runCommand(process.execPath, [cli, ...args], {env: {...process.env, DLITE_DATA_DIR: data, ...env}, timeoutMs: 60_000})
  const install = (cli: string, home: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) =>
    run(cli, ['install', '--yes', '--ssh-key', 'none', '--share', share, ...extra], {DLITE_HOME: home, ...env})

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-osimage-'))
    copy = copyCli(join(dir, 'cli'))
    share = join(dir, 'share')
    mkdirSync(share)
  })
  after(() => rmSync(dir, {recursive: true, force: true}))
  beforeEach(() => {
    data = join(dir, `data-${n++}`)
    mkdirSync(data)
  })

  it('with no image anywhere: exit 2 naming `dlite os build` and --os, and nothing written', async () => {
    expect(existsSync(join(dirname(dirname(copy)), 'os', 'dist'))).to.equal(false)
    const home = join(dir, 'home-none')
    const result = await install(copy, home)
    expect(result.code, result.stderr).to.equal(2)
    const text = unwrap(result.stderr)
    expect(text).to.include('no OS image was found').and.include(join(data, 'os', 'manifest.json'))
    expect(text).to.include('`sudo dlite os build`').and.include('--os PATH|URL')
    expect(existsSync(home)).to.equal(false)
    expect(readdirSync(data)).to.deep.equal([])

    const json = await install(copy, home, ['--json'])
    expect(json.code).to.equal(2)
    expect(JSON.parse(json.stdout).error.message).to.include('no OS image was found')
  })

  it('installs the image `dlite os build` left in the data directory', async () => {
    mkdirSync(join(data, 'os'))
    const built = JSON.parse(readFileSync(BUILT_OS_MANIFEST, 'utf8')) as {version: string; files: Array<{name: string}>}
    for (const name of ['manifest.json', ...built.files.map((f) => f.name)]) copyFileSync(join(dirname(BUILT_OS_MANIFEST), name), join(data, 'os', name))
    const home = join(dir, 'home-built')
    const result = await install(copy, home, ['--json'])
    expect(result.code, result.stderr).to.equal(0)
    const body = JSON.parse(result.stdout) as {imageVersion: string; os: {source: string; origin: string}}
    expect(body.os).to.deep.equal({source: join(data, 'os', 'manifest.json'), origin: 'os-build'})
    expect(body.imageVersion).to.equal(built.version)
    expect(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).osSource).to.equal(join(data, 'os', 'manifest.json'))
  })

  it('in a checkout, its own os/dist is still found, before the data directory\'s', async () => {
    mkdirSync(join(data, 'os'))
    writeFileSync(join(data, 'os', 'manifest.json'), '{"not": "used"}')
    const home = join(dir, 'home-checkout')
    const result = await install(CLI, home, ['--json'])
    expect(result.code, result.stderr).to.equal(0)
    expect(JSON.parse(result.stdout).os).to.deep.equal({source: BUILT_OS_MANIFEST, origin: 'beside-cli'})
  })

  it('--os wins over the checkout\'s image', async () => {
    const other = join(dir, 'other-os')
    cpSync(dirname(realpathSync(BUILT_OS_MANIFEST)), other, {recursive: true})
    const result = await install(CLI, join(dir, 'home-flag'), ['--os', join(other, 'manifest.json'), '--json'])
    expect(result.code, result.stderr).to.equal(0)
    expect(JSON.parse(result.stdout).os).to.deep.equal({source: join(other, 'manifest.json'), origin: 'flag'})
  })

  it('uses the release manifest package.json names (https, pinned), and ignores one over http', async () => {
    const pin = 'ab'.repeat(32)
    // nothing listens on port 1 of loopback: the download fails at once, and says which URL it tried
    const https = copyCli(join(dir, 'cli-release'), (pj) => {
      pj.dliteOs = {manifest: 'https://127.0.0.1:1/dlite-os/manifest.json', sha256: pin}
    })
    const home = join(dir, 'home-release')
    const tried = await install(https, home)
    expect(tried.code, tried.stderr).to.equal(1)
    expect(unwrap(tried.stderr)).to.match(/install failed, nothing was changed: .*https:\/\/127\.0\.0\.1:1\/dlite-os\/manifest\.json/)
    expect(existsSync(home)).to.equal(false)

    const http = copyCli(join(dir, 'cli-http'), (pj) => {
      pj.dliteOs = {manifest: 'http://127.0.0.1:1/dlite-os/manifest.json', sha256: pin}
    })
    const refused = await install(http, home)
    expect(refused.code, refused.stderr).to.equal(2)
    const text = unwrap(refused.stderr)
    expect(text).to.match(/"dliteOs" is ignored: .*not an https:\/\/ URL/)
    expect(text).to.include('no OS image was found').and.include('dlite os build')
    expect(existsSync(home)).to.equal(false)
  })
})

describe('dlite os build', function () {
  this.timeout(60_000)
  let dir: string
  let cli: string
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'dlite-osbuild-'))
    chmodSync(dir, 0o755)
    // a CLI whose os/build.js is the stand-in
    cli = join(dir, 'cli')
    copyPackage(cli)
    writeFileSync(join(cli, 'os', 'build.js'), FAKE_BUILDER)
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  const run = (args: string[], env: NodeJS.ProcessEnv = {}, entry = join(cli, 'bin', 'run.js')) =>
    runCommand(process.execPath, [entry, 'os', 'build', ...args], {env: {...process.env, ...env}, timeoutMs: 60_000})
  const stagingDirs = () => readdirSync(tmpdir()).filter((name) => name.startsWith('dlite-os-build-'))

  it('--help says what it does and where the image goes', async () => {
    const result = await runCommand(process.execPath, [CLI, 'os', 'build', '--help'], {timeoutMs: 30_000})
    expect(result.code).to.equal(0)
    expect(result.stdout).to.include('--out').and.include('--force').and.include('.local/share/dlite/os').and.include('root')
  })

  it('as a user who is not root: exit 1, naming the sudo command to run, and nothing built', async function () {
    if (process.getuid?.() !== 0) this.skip()
    let reachable = true
    try {
      execFileSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', 'test', '-r', CLI], {stdio: 'ignore'})
    } catch {
      reachable = false
    }
    // CI may clone under /root, where no other user can read the CLI
    if (!reachable) this.skip()
    const asNobody = (args: string[]) => runCommand('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--',
      'env', 'HOME=/tmp', `DLITE_DATA_DIR=${join(dir, 'nobody-data')}`, process.execPath, CLI, 'os', 'build', ...args], {timeoutMs: 30_000})
    const result = await asNobody([])
    expect(result.code, result.stderr).to.equal(1)
    const text = unwrap(result.stderr)
    expect(text).to.include('needs root')
    expect(text).to.match(new RegExp(`run: sudo (dlite|\\S+ ${CLI.replace(/[.]/g, '\\.')}) os build --out ${join(dir, 'nobody-data', 'os')}`))
    const json = await asNobody(['--json'])
    expect(json.code).to.equal(1)
    expect(JSON.parse(json.stdout).error.message).to.include('needs root')
    expect(existsSync(join(dir, 'nobody-data'))).to.equal(false)
  })

  it('as root under sudo: the image lands in the data directory, owned by the invoking user, one JSON document', async function () {
    if (process.getuid?.() !== 0) this.skip()
    const data = join(dir, 'user-data')
    mkdirSync(data)
    chownSync(data, NOBODY, NOBODY)
    // a link planted where an image file goes: replaced, never followed
    mkdirSync(join(data, 'os'))
    chownSync(join(data, 'os'), NOBODY, NOBODY)
    writeFileSync(join(dir, 'roots-file'), 'root\'s\n')
    symlinkSync(join(dir, 'roots-file'), join(data, 'os', 'vmlinuz'))
    const before = stagingDirs()
    const result = await run(['--json'], {DLITE_DATA_DIR: data, SUDO_UID: String(NOBODY), SUDO_GID: String(NOBODY), SUDO_USER: 'nobody'})
    expect(result.code, result.stderr).to.equal(0)
    const out = join(data, 'os')
    expect(JSON.parse(result.stdout)).to.deep.equal({manifest: join(out, 'manifest.json'), version: '0.0.0-standin', outDir: out})
    expect(result.stderr).to.include('stand-in builder').and.include('chatter of a build tool')
    for (const name of ['manifest.json', 'vmlinuz', 'initrd.img', 'root.img']) {
      const st = lstatSync(join(out, name))
      expect(st.isFile(), name).to.equal(true)
      expect([st.uid, st.gid], name).to.deep.equal([NOBODY, NOBODY])
    }
    expect(readFileSync(join(dir, 'roots-file'), 'utf8')).to.equal('root\'s\n')
    expect(stagingDirs()).to.deep.equal(before)
  })

  it('a failed build: exit 1, the output directory untouched, no staging left', async function () {
    if (process.getuid?.() !== 0) this.skip()
    const out = join(dir, 'fail-out')
    mkdirSync(out)
    writeFileSync(join(out, 'manifest.json'), '{"previous": true}')
    const before = stagingDirs()
    const result = await run(['--out', out], {FAKE_BUILD_FAIL: '1'})
    expect(result.code).to.equal(1)
    expect(unwrap(result.stderr)).to.match(/the image build failed, .*fail-out is unchanged: .*exit 3/)
    expect(readdirSync(out)).to.deep.equal(['manifest.json'])
    expect(readFileSync(join(out, 'manifest.json'), 'utf8')).to.equal('{"previous": true}')
    expect(stagingDirs()).to.deep.equal(before)
  })

  it('refuses an empty --out with exit 2', async () => {
    const result = await run(['--out', ''])
    expect(result.code).to.equal(2)
    expect(unwrap(result.stderr)).to.match(/--out.*empty/)
  })
})
