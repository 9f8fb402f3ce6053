import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {
  detectServiceManager,
  launchdPlistText,
  serviceManager,
  serviceNames,
  systemdUnitText,
  type ServiceSpec,
} from '../../src/service/index.js'
import type {ExecOptions, ExecResult} from 'dlite-kit/exec'

const spec = (over: Partial<ServiceSpec> = {}): ServiceSpec => ({
  home: '/root/.dlite',
  command: ['/usr/bin/node', '/opt/dlite/bin/run.js', 'daemon'],
  name: 'dlite',
  ...over,
})

// A home path and arguments with everything that needs escaping.
const NASTY_HOME = '/srv/my homes/50%h $HOME "q" \\x & <b>'

function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
}

describe('service definitions', () => {
  it('names the default home plainly and other homes by id', () => {
    expect(serviceNames('1a2b3c', true)).to.deep.equal({name: 'dlite', systemdUnit: 'dlite.service', launchdLabel: 'io.dlite.daemon'})
    expect(serviceNames('1a2b3c', false)).to.deep.equal({name: 'dlite-1a2b3c', systemdUnit: 'dlite-1a2b3c.service', launchdLabel: 'io.dlite.daemon.1a2b3c'})
  })

  it('writes a systemd unit that runs the daemon with DLITE_HOME, stops it gently and does not restart-loop', () => {
    const text = systemdUnitText(spec({env: {PATH: '/usr/bin:/bin'}, stopTimeoutSec: 120}))
    expect(text).to.contain('\n[Service]\nType=simple\nEnvironment="DLITE_HOME=/root/.dlite"\nEnvironment="PATH=/usr/bin:/bin"\n')
    expect(text).to.contain('\nExecStart="/usr/bin/node" "/opt/dlite/bin/run.js" "daemon"\n')
    expect(text).to.contain('\nKillMode=mixed\nTimeoutStopSec=120\n')
    expect(text).to.contain('\nRestart=on-failure\n').and.contain('\nStartLimitBurst=3\n')
    expect(text).to.contain('\n[Install]\nWantedBy=multi-user.target\n')
  })

  it('escapes quotes, backslashes, % specifiers and $ expansion in the unit', () => {
    const text = systemdUnitText(spec({home: NASTY_HOME, command: ['/usr/bin/node', '/a b/run.js', 'daemon', '$X', '100%']}))
    expect(text).to.contain('Environment="DLITE_HOME=/srv/my homes/50%%h $HOME \\"q\\" \\\\x & <b>"\n')
    expect(text).to.contain('ExecStart="/usr/bin/node" "/a b/run.js" "daemon" "$$X" "100%%"\n')
    expect(text).to.contain('Description=dlite VM daemon (DLITE_HOME=/srv/my homes/50%%h')
  })

  it('refuses values that would inject directives or are malformed', () => {
    expect(() => systemdUnitText(spec({home: '/a\nExecStartPre=/bin/evil'}))).to.throw(/control character/)
    expect(() => systemdUnitText(spec({command: ['/usr/bin/node', 'x\ny']}))).to.throw(/control character/)
    expect(() => systemdUnitText(spec({env: {'BAD NAME': 'x'}}))).to.throw(/environment variable name/)
    expect(() => systemdUnitText(spec({home: 'relative'}))).to.throw(/absolute/)
    expect(() => systemdUnitText(spec({command: []}))).to.throw(/empty/)
    expect(() => launchdPlistText(spec({home: '/a\u0001'}), 'io.dlite.daemon')).to.throw(/control character/)
  })

  it('the unit passes `systemd-analyze verify` (offline check; no systemd runs here)', function () {
    if (!which('systemd-analyze')) this.skip()
    const dir = mkdtempSync(join(tmpdir(), 'dlite-unit-'))
    try {
      const unit = join(dir, 'dlite-test.service')
      writeFileSync(unit, systemdUnitText(spec({home: NASTY_HOME, command: [process.execPath, '/a b/run.js', 'daemon', '$X', '100%']})))
      const result = spawnSync('systemd-analyze', ['verify', '--man=no', unit], {encoding: 'utf8'})
      expect(result.stderr).to.not.match(/dlite-test\.service/)
      // ...and a broken unit does fail it, so the check above means something.
      writeFileSync(unit, systemdUnitText(spec({command: ['relative-node']})))
      const broken = spawnSync('systemd-analyze', ['verify', '--man=no', unit], {encoding: 'utf8'})
      expect(broken.stderr).to.match(/dlite-test\.service.*(executable|bad unit file)/)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('writes a launchd plist whose values survive a real plist parser (python plistlib)', function () {
    const text = launchdPlistText(spec({home: NASTY_HOME, command: ['/usr/local/bin/node', '/a&b/<run>.js', 'daemon'], logFile: '/srv/log & "x"'}), 'io.dlite.daemon.1a2b3c')
    expect(text).to.contain('<string>/srv/my homes/50%h $HOME &quot;q&quot; \\x &amp; &lt;b&gt;</string>')
    if (!which('python3')) this.skip()
    const parsed = spawnSync('python3', ['-c', 'import json,plistlib,sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))'], {input: text, encoding: 'utf8'})
    expect(parsed.status, parsed.stderr).to.equal(0)
    expect(JSON.parse(parsed.stdout)).to.deep.equal({
      Label: 'io.dlite.daemon.1a2b3c',
      ProgramArguments: ['/usr/local/bin/node', '/a&b/<run>.js', 'daemon'],
      EnvironmentVariables: {DLITE_HOME: NASTY_HOME},
      RunAtLoad: false,
      ExitTimeOut: 90,
      StandardOutPath: '/srv/log & "x"',
      StandardErrorPath: '/srv/log & "x"',
    })
  })
})

describe('service manager', () => {
  it('detects systemd only when PID 1 is systemd, launchd on macOS, otherwise none', () => {
    const has = (...paths: string[]) => (path: string) => paths.includes(path)
    expect(detectServiceManager({platform: 'linux', pathExists: has('/run/systemd/system'), pid1Name: 'systemd'})).to.equal('systemd')
    expect(detectServiceManager({platform: 'linux', pathExists: has('/run/systemd/system')})).to.equal('systemd')
    expect(detectServiceManager({platform: 'linux', pathExists: has(), pid1Name: 'init'})).to.equal('none')
    expect(detectServiceManager({platform: 'linux', pathExists: has('/run/systemd/system'), pid1Name: 'tini'})).to.equal('none')
    expect(detectServiceManager({platform: 'darwin', pathExists: has()})).to.equal('launchd')
    expect(detectServiceManager({platform: 'win32', pathExists: has()})).to.equal('none')
  })

  // systemd and launchd are not available on these machines (PID 1 is not systemd; this is not macOS),
  // so the calls they would get are checked against a fake runner that records them.
  interface Call {
    cmd: string
    args: string[]
  }
  function fakeRunner(respond: (call: Call) => Partial<ExecResult> = () => ({})) {
    const calls: Call[] = []
    const runner = async (cmd: string, args: string[], _opts?: ExecOptions): Promise<ExecResult> => {
      calls.push({cmd, args})
      return {code: 0, stdout: '', stderr: '', ...respond({cmd, args})}
    }
    return {calls, runner}
  }

  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-service-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('systemd: install writes the unit and reloads; start/stop/is-active; uninstall stops, removes, reloads', async () => {
    const {calls, runner} = fakeRunner(({args}) => (args[0] === 'is-active' ? {code: 3} : {}))
    const manager = serviceManager('systemd', spec(), serviceNames('1a2b3c', false), {runner, dir, rootPathProblems: () => []})!
    expect(manager.id).to.equal('dlite-1a2b3c.service')
    await manager.install()
    expect(readFileSync(join(dir, 'dlite-1a2b3c.service'), 'utf8')).to.equal(systemdUnitText({...spec(), name: 'dlite-1a2b3c'}))
    await manager.start()
    expect(await manager.isActive()).to.equal(false)
    await manager.stop()
    await manager.uninstall()
    expect(existsSync(manager.path)).to.equal(false)
    expect(calls.map((c) => `${c.cmd} ${c.args.join(' ')}`)).to.deep.equal([
      'systemctl daemon-reload',
      'systemctl start dlite-1a2b3c.service',
      'systemctl is-active --quiet dlite-1a2b3c.service',
      'systemctl stop dlite-1a2b3c.service',
      'systemctl stop dlite-1a2b3c.service',
      'systemctl disable dlite-1a2b3c.service',
      'systemctl daemon-reload',
      'systemctl reset-failed dlite-1a2b3c.service',
    ])
    expect(readdirSync(dir)).to.deep.equal([])
  })

  it('systemd: a failing systemctl is reported with its message', async () => {
    const {runner} = fakeRunner(({args}) => (args[0] === 'start' ? {code: 1, stderr: 'Job for dlite.service failed.'} : {}))
    const manager = serviceManager('systemd', spec(), serviceNames('x', true), {runner, dir, rootPathProblems: () => []})!
    await manager.start().then(() => expect.fail('started'), (error: Error) => {
      expect(error.message).to.equal('systemctl start dlite.service failed (exit 1): Job for dlite.service failed.')
    })
  })

  it('launchd: install writes the plist and bootstraps it; kickstart, kill, print; uninstall boots out and removes', async () => {
    const {calls, runner} = fakeRunner(({args}) => (args[0] === 'print' ? {stdout: '\tstate = running\n'} : args[0] === 'bootout' ? {code: 113} : {}))
    const manager = serviceManager('launchd', spec(), serviceNames('x', true), {runner, dir, rootPathProblems: () => []})!
    await manager.install()
    expect(manager.path).to.equal(join(dir, 'io.dlite.daemon.plist'))
    expect(readFileSync(manager.path, 'utf8')).to.contain('<string>io.dlite.daemon</string>')
    await manager.start()
    expect(await manager.isActive()).to.equal(true)
    await manager.stop()
    await manager.uninstall()
    expect(existsSync(manager.path)).to.equal(false)
    expect(calls.map((c) => `${c.cmd} ${c.args.join(' ')}`)).to.deep.equal([
      'launchctl bootout system/io.dlite.daemon',
      `launchctl bootstrap system ${join(dir, 'io.dlite.daemon.plist')}`,
      'launchctl kickstart system/io.dlite.daemon',
      'launchctl print system/io.dlite.daemon',
      'launchctl kill SIGTERM system/io.dlite.daemon',
      'launchctl bootout system/io.dlite.daemon',
    ])
  })

  it("user scope (a user-mode VM): the user's own systemd (--user, ~/.config/systemd/user, default.target) and LaunchAgent (gui/<uid>)", async () => {
    // systemd and launchd are not on these machines: the runner records what would be asked of them
    const {calls, runner} = fakeRunner(() => ({}))
    const userSpec = {...spec(), scope: 'user' as const}
    const user = {home: join(dir, 'alice'), uid: 1234}
    const previous = process.env.XDG_CONFIG_HOME
    delete process.env.XDG_CONFIG_HOME
    try {
      const systemd = serviceManager('systemd', userSpec, serviceNames('x', true), {runner, user})!
      expect(systemd.path).to.equal(join(dir, 'alice', '.config', 'systemd', 'user', 'dlite.service'))
      await systemd.install()
      const unit = readFileSync(systemd.path, 'utf8')
      expect(unit).to.contain('WantedBy=default.target').and.not.contain('multi-user.target').and.not.contain('network-online')
      await systemd.start()
      const launchd = serviceManager('launchd', userSpec, serviceNames('x', true), {runner, user})!
      expect(launchd.path).to.equal(join(dir, 'alice', 'Library', 'LaunchAgents', 'io.dlite.daemon.plist'))
      await launchd.install()
      await launchd.start()
    } finally {
      if (previous !== undefined) process.env.XDG_CONFIG_HOME = previous
    }
    expect(calls.map((c) => `${c.cmd} ${c.args.join(' ')}`)).to.deep.equal([
      'systemctl --user daemon-reload',
      'systemctl --user start dlite.service',
      'launchctl bootout gui/1234/io.dlite.daemon',
      `launchctl bootstrap gui/1234 ${join(dir, 'alice', 'Library', 'LaunchAgents', 'io.dlite.daemon.plist')}`,
      'launchctl kickstart gui/1234/io.dlite.daemon',
    ])
  })

  it('autostart: systemd enables or disables the unit; launchd rewrites RunAtLoad (and KeepAlive on a crash) without loading it now', async () => {
    const {calls, runner} = fakeRunner(() => ({}))
    const systemd = serviceManager('systemd', {...spec(), scope: 'user'}, serviceNames('x', true), {runner, dir, rootPathProblems: () => []})!
    await systemd.setAutostart(true)
    await systemd.setAutostart(false)
    const launchd = serviceManager('launchd', spec(), serviceNames('x', true), {runner, dir, rootPathProblems: () => []})!
    await launchd.install()
    expect(readFileSync(launchd.path, 'utf8')).to.match(/<key>RunAtLoad<\/key>\s*<false\/>/).and.not.contain('KeepAlive')
    calls.length = 2 // what install asked of launchctl is covered above
    await launchd.setAutostart(true)
    const on = readFileSync(launchd.path, 'utf8')
    expect(on).to.match(/<key>RunAtLoad<\/key>\s*<true\/>/).and.match(/<key>KeepAlive<\/key>\s*<dict>\s*<key>SuccessfulExit<\/key>\s*<false\/>/)
    await launchd.setAutostart(false)
    expect(readFileSync(launchd.path, 'utf8')).to.match(/<key>RunAtLoad<\/key>\s*<false\/>/)
    expect(calls.map((c) => `${c.cmd} ${c.args.join(' ')}`)).to.deep.equal(['systemctl --user enable dlite.service', 'systemctl --user disable dlite.service'])
  })

  it('none: there is no manager, the caller spawns the daemon', () => {
    expect(serviceManager('none', spec(), serviceNames('x', true))).to.equal(undefined)
  })
})
