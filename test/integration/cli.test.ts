// The CLI as a user runs it: ./bin/run.js from a built checkout.
import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

const exec = promisify(execFile)

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{code: number; stdout: string; stderr: string}> {
  try {
    const {stdout, stderr} = await exec('./bin/run.js', args, {env: {...process.env, ...env}})
    return {code: 0, stdout, stderr}
  } catch (error) {
    const failed = error as {code: number; stdout: string; stderr: string}
    return {code: failed.code, stdout: failed.stdout, stderr: failed.stderr}
  }
}

/** Runs `body` with a fresh DLITE_HOME installed from the built image (no VM started), removed afterwards. */
async function withInstalledHome(installArgs: string[], body: (env: {DLITE_HOME: string}, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dlite-cli-home-'))
  const env = {DLITE_HOME: join(dir, 'home')}
  try {
    const installed = await cli(['install', '--yes', '--os', 'os/dist/manifest.json', '--ssh-key', 'none', '--share', dir, ...installArgs], env)
    expect(installed.code, installed.stderr).to.equal(0)
    await body(env, dir)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

describe('CLI', () => {
  it('--help lists the commands', async () => {
    const {code, stdout} = await cli(['--help'])
    expect(code).to.equal(0)
    expect(stdout).to.match(/\n\s+doctor\s/)
    expect(stdout).to.match(/\n\s+plugins\s/)
  })

  it('doctor --json prints exactly one JSON document naming the accelerator and why', async () => {
    const {code, stdout} = await cli(['doctor', '--json'])
    const report = JSON.parse(stdout)
    expect(code).to.equal(report.ok ? 0 : 1)
    expect(['kvm', 'hvf', 'tcg']).to.include(report.accelerator)
    expect(report.acceleratorReason).to.be.a('string').and.not.equal('')
    expect(report.checks.map((c: {id: string}) => c.id)).to.include.members(['qemu', 'accelerator', 'network', 'space'])
    if (report.hardware && !report.hardware.usable) expect(report.accelerator).to.equal('tcg')
  })

  it('doctor prints a table with the same verdicts', async () => {
    const json = JSON.parse((await cli(['doctor', '--json'])).stdout)
    const {stdout} = await cli(['doctor'])
    expect(stdout).to.match(/^STATUS\s+CHECK\s+DETAIL/)
    expect(stdout).to.contain(json.ok ? `dlite start will use ${json.accelerator}` : 'Not ready')
  })

  it('logs shows the daemon log, this boot\'s console, or with --previous the boot before', async () => {
    const home = mkdtempSync(join(tmpdir(), 'dlite-logs-'))
    try {
      mkdirSync(join(home, 'logs'))
      writeFileSync(join(home, 'logs', 'daemon.log'), 'daemon line\n')
      writeFileSync(join(home, 'logs', 'console.log'), 'DLITE-STAGE init 4.1\nDLITE-READY docker 16.4\n')
      writeFileSync(join(home, 'logs', 'console.previous.log'), 'DLITE-WARN docker: no API yet\n')
      const env = {DLITE_HOME: home}
      expect((await cli(['logs', '-n', '1'], env)).stdout).to.equal('daemon line\n')
      expect((await cli(['logs', '--console', '-n', '1'], env)).stdout).to.equal('DLITE-READY docker 16.4\n')
      const previous = JSON.parse((await cli(['logs', '--console', '--previous', '--json'], env)).stdout)
      expect(previous).to.deep.equal({path: join(home, 'logs', 'console.previous.log'), lines: ['DLITE-WARN docker: no API yet']})
      const alone = await cli(['logs', '--previous'], env)
      expect(alone.code).to.equal(2)
      expect(alone.stderr).to.match(/--console/)
    } finally {
      rmSync(home, {recursive: true, force: true})
    }
  })

  it('version --json names the CLI, its plugins, the OS image (or why there is none), QEMU and the accelerator', async () => {
    const home = mkdtempSync(join(tmpdir(), 'dlite-version-'))
    try {
      const {code, stdout} = await cli(['version', '--json'], {DLITE_HOME: join(home, 'none')})
      expect(code).to.equal(0)
      const v = JSON.parse(stdout)
      expect(v.cli).to.match(/^\d+\.\d+\.\d+/)
      expect(v.plugins.map((p: {name: string}) => p.name)).to.include('dlite-routing')
      expect(v.osImage.missing).to.match(/not installed in .*: run dlite install/)
      expect(v.qemu.version ?? v.qemu.missing).to.be.a('string')
      expect(v.accelerator.name).to.be.oneOf(['kvm', 'hvf', 'tcg'])
    } finally {
      rmSync(home, {recursive: true, force: true})
    }
  })

  it('env and restart outside an install exit 1 and name the fix', async () => {
    for (const command of ['env', 'restart']) {
      const {code, stderr} = await cli([command], {DLITE_HOME: join(tmpdir(), 'dlite-no-such-home')})
      expect(code, command).to.equal(1)
      expect(stderr, command).to.match(/dlite is not installed in .*\n.*run `dlite install` first, or pick another instance \(dlite list\)/)
    }
  })

  it('env --shell refuses a shell it does not know (exit 2)', async () => {
    const {code, stderr} = await cli(['env', '--shell', 'tcsh'])
    expect(code).to.equal(2)
    expect(stderr).to.match(/Expected --shell=tcsh to be one of: bash, zsh, fish, powershell/)
  })

  it('a profile name that is not one plain path segment is refused before anything runs (exit 2)', async () => {
    for (const args of [['status', '--profile', '../etc'], ['list', '--profile', 'Work']]) {
      const {code, stderr} = await cli(args)
      expect(code, args.join(' ')).to.equal(2)
      expect(stderr).to.match(/invalid profile name/).and.match(/--profile work/)
    }
    const {code} = await cli(['status', '--json'], {DLITE_PROFILE: 'a/b'})
    expect(code, 'DLITE_PROFILE is checked the same way').to.equal(2)
  })

  it('list --json gives every installed instance; none installed is an empty list', async () => {
    const home = mkdtempSync(join(tmpdir(), 'dlite-list-'))
    try {
      const {code, stdout} = await cli(['list', '--json'], {DLITE_HOME: join(home, 'none')})
      expect(code).to.equal(0)
      const {instances} = JSON.parse(stdout)
      expect(instances.filter((i: {report: {home: string}}) => i.report.home.startsWith(home))).to.deep.equal([])
    } finally {
      rmSync(home, {recursive: true, force: true})
    }
  })

  it('autostart where no service manager runs (systemd is not PID 1 here): install refuses --autostart before writing; autostart on exits 1 and names why', async function () {
    this.timeout(60_000)
    await withInstalledHome([], async (env, dir) => {
      const other = join(dir, 'other')
      const refused = await cli(['install', '--yes', '--autostart', '--os', 'os/dist/manifest.json', '--ssh-key', 'none', '--share', dir], {DLITE_HOME: other})
      expect(refused.code).to.equal(2)
      expect(refused.stderr.replace(/\s+›\s+/g, ' ')).to.match(/--autostart: nothing on this host can start dlite at login: systemd is not PID 1 here/)
      expect(existsSync(other), 'nothing written').to.equal(false)
      expect((await cli(['autostart'], env)).stdout).to.match(/^autostart is off for /)
      const on = await cli(['autostart', 'on'], env)
      expect(on.code).to.equal(1)
      expect(on.stderr).to.match(/nothing on this host can start dlite at login/)
      expect(JSON.parse((await cli(['autostart', '--json'], env)).stdout)).to.deep.equal({autostart: false})
      expect((await cli(['autostart', 'sometimes'], env)).code).to.equal(2)
    })
  })

  it('config set: a bad value anywhere is exit 2 with the config byte for byte as it was; good values are written and read back', async function () {
    this.timeout(60_000)
    await withInstalledHome(['-m', '1'], async (env) => {
      const configFile = join(env.DLITE_HOME, 'config.json')
      const before = readFileSync(configFile, 'utf8')
      const refused = await cli(['config', 'set', 'memory=2', 'disk=9'], env)
      expect(refused.code).to.equal(2)
      expect(refused.stderr).to.match(/nothing was changed/).and.match(/disk: the disk cannot shrink below its 20 GiB/)
      expect(readFileSync(configFile, 'utf8')).to.equal(before)
      const set = await cli(['config', 'set', 'memory=2', 'disk=24', '--json'], env)
      expect(set.code, set.stderr).to.equal(0)
      expect(JSON.parse(set.stdout)).to.deep.equal({changed: [{name: 'memory', from: '1', to: '2'}, {name: 'disk', from: '20', to: '24'}], restartNeeded: false})
      expect((await cli(['config', 'get', 'disk'], env)).stdout.trim()).to.equal('24')
    })
  })

  it('edit: what the editor saves is checked as config set checks it; a bad value changes nothing, a good one is written', async function () {
    this.timeout(60_000)
    await withInstalledHome(['-m', '1'], async (home) => {
      const env = {...home, VISUAL: '', EDITOR: ''}
      const configFile = join(home.DLITE_HOME, 'config.json')
      const before = readFileSync(configFile, 'utf8')
      const noEditor = await cli(['edit'], env)
      expect(noEditor.code).to.equal(2)
      expect(noEditor.stderr).to.match(/no editor: neither VISUAL nor EDITOR is set/)
      // an "editor" that shrinks the disk and makes memory a word: refused, nothing written
      const bad = await cli(['edit'], {...env, EDITOR: "sed -i -e 's/^disk=.*/disk=9/' -e 's/^memory=.*/memory=lots/'"})
      expect(bad.code).to.equal(2)
      expect(bad.stderr).to.match(/nothing was changed/).and.match(/disk: the disk cannot shrink/).and.match(/memory: "lots" is not a whole number/)
      expect(readFileSync(configFile, 'utf8')).to.equal(before)
      const good = await cli(['edit', '--json'], {...env, VISUAL: "sed -i 's/^memory=.*/memory=2/'"})
      expect(good.code, good.stderr).to.equal(0)
      expect(JSON.parse(good.stdout)).to.deep.equal({changed: [{name: 'memory', from: '1', to: '2'}], restartNeeded: false})
      const failing = await cli(['edit'], {...env, EDITOR: 'false'})
      expect(failing.code).to.equal(1)
      expect(failing.stderr).to.match(/the editor \(false\) exited with 1; nothing was changed/)
    })
  })

  it('shell completion: the bash script loads, `dlite sta<TAB>` offers start and status, `dlite config s<TAB>` set', async function () {
    this.timeout(60_000)
    const cache = mkdtempSync(join(tmpdir(), 'dlite-completion-'))
    try {
      const env = {XDG_CACHE_HOME: cache}
      expect((await cli(['autocomplete', '--refresh-cache'], env)).code).to.equal(0)
      const setup = await cli(['autocomplete', 'script', 'bash'], env)
      expect(setup.code).to.equal(0)
      const complete = (words: string[]) => `COMP_WORDS=(${words.join(' ')}); COMP_CWORD=${words.length - 1}; _dlite_autocomplete; printf '%s\\n' "\${COMPREPLY[@]}"; echo ---`
      const {stdout} = await exec('bash', ['-c', `${setup.stdout}\n${complete(['dlite', 'sta'])}\n${complete(['dlite', 'config', 's'])}`])
      expect(stdout.split('---\n').map((block) => block.trim().split('\n'))).to.deep.equal([['start', 'status'], ['set'], ['']])
    } finally {
      rmSync(cache, {recursive: true, force: true})
    }
  })

  it('docker-socket: root links /var/run/docker.sock to the VM\'s socket with a boot entry and unlinks it; a user may not', async function () {
    if (process.getuid?.() !== 0) this.skip()
    this.timeout(60_000)
    await withInstalledHome([], async (env) => {
      const socket = join(env.DLITE_HOME, 'docker.sock')
      // a private /run and /etc/tmpfiles.d: the machine's own are never touched
      const script = [
        'mount -t tmpfs -o mode=0755 tmpfs /run', 'mount -t tmpfs -o mode=0755 tmpfs /etc/tmpfiles.d',
        './bin/run.js docker-socket link --json', 'echo "link=$(readlink /var/run/docker.sock)"', 'cat /etc/tmpfiles.d/dlite-docker-sock.conf',
        './bin/run.js docker-socket', './bin/run.js docker-socket unlink --json', 'echo "left=$(ls -A /run /etc/tmpfiles.d | tr -d "\\n")"',
      ].join(' && ')
      const run = await exec('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {env: {...process.env, ...env}})
      const linked = JSON.parse(run.stdout.slice(0, run.stdout.indexOf('\n}') + 2))
      expect(linked).to.include({kind: 'ours', target: socket, persistent: true, changed: true})
      expect(run.stdout).to.contain(`link=${socket}\n`).and.contain(`L /run/docker.sock - - - - ${socket}\n`)
      expect(run.stdout).to.contain(`/var/run/docker.sock leads to this VM's docker socket ${socket} (made again at every boot)`)
      expect(run.stdout).to.match(/"kind": "absent"[\s\S]*left=\/etc\/tmpfiles.d:\/run:/)
      const asUser = await exec('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', './bin/run.js', 'docker-socket', 'link'], {env: {...process.env, ...env}})
        .then(() => ({code: 0, stderr: ''}), (error: {code: number; stderr: string}) => error)
      expect(asUser.code).to.equal(1)
      expect(asUser.stderr).to.match(/only root can link \/var\/run\/docker.sock[\s\S]*sudo dlite docker-socket link/)
    })
  })

  it('an unknown flag is a usage error (exit 2)', async () => {
    const {code, stderr} = await cli(['doctor', '--frobnicate'])
    expect(code).to.equal(2)
    expect(stderr).to.match(/Nonexistent flag: --frobnicate/)
  })
})
