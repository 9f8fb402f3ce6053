import {expect} from 'chai'
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {createConfig} from '../../src/config/store.js'
import type {ControlRequest, ControlResponse} from '../../src/daemon/control-protocol.js'
import {serveControl, type ControlServer} from '../../src/daemon/control-server.js'
import {controlSocketPath} from '../../src/daemon/daemon-paths.js'
import {networkNames} from '../../src/network/names.js'
import {homeLayout, pluginDataDir} from '../../src/paths.js'
import {quoteForGuestShell} from '../../src/plugin-api/guest-exec.js'
import {guestExec, pluginStateDir, sendPluginRequest, vmContext} from '../../src/plugin-api/index.js'
import {run, type ExecResult, type Runner} from 'dlite-kit/exec'
import {sampleConfig} from '../helpers/config-fixture.js'

describe('plugin API', () => {
  describe('guestExec', () => {
    it('quotes every argument so the guest shell gives them back unchanged', async () => {
      const argv = ['iptables', '-A', 'DOCKER-USER', '-m', 'comment', '--comment', "dlite's rule; $(rm -rf /)", '', 'a b', '*']
      const echoed = await run('sh', ['-c', `printf '%s\\n' ${quoteForGuestShell(argv)}`])
      expect(echoed.stdout.split('\n').slice(0, -1)).to.deep.equal(argv)
    })

    it('runs the command with sudo over ssh with the home key and pinned host key, retrying while sshd is not up', async () => {
      const calls: string[][] = []
      const answers: ExecResult[] = [
        {code: 255, stdout: '', stderr: 'connect to host 192.168.64.2 port 22: Connection refused'},
        {code: 255, stdout: '', stderr: 'connect to host 192.168.64.2 port 22: Connection refused'},
        {code: 3, stdout: 'out', stderr: 'err'},
      ]
      const runner: Runner = async (cmd, args) => {
        expect(cmd).to.equal('ssh')
        calls.push(args)
        return answers.shift()!
      }
      const result = await guestExec({home: '/h', ip: '192.168.64.2'}, ['sysctl', '-w', 'a=b c'], {runner, timeoutMs: 10_000})
      expect(result).to.deep.equal({code: 3, stdout: 'out', stderr: 'err'})
      expect(calls).to.have.length(3)
      const args = calls[0]
      expect(args).to.include.members(['/h/keys/id_ed25519', 'UserKnownHostsFile=/h/keys/known_hosts', 'StrictHostKeyChecking=yes', 'docker'])
      // the host comes last among ssh's own arguments; the remote command line follows it
      expect(args.at(-2)).to.equal('192.168.64.2')
      expect(args.at(-1)).to.equal("sudo -n -- sysctl -w 'a=b c'")
    })

    it('gives up on an unreachable guest at its deadline with ssh\'s own error', async () => {
      let calls = 0
      const runner: Runner = async () => {
        calls++
        return {code: 255, stdout: '', stderr: 'No route to host'}
      }
      const result = await guestExec({home: '/h', ip: '192.168.64.2'}, ['true'], {runner, timeoutMs: 300})
      expect(result.code).to.equal(255)
      expect(result.stderr).to.equal('No route to host')
      expect(calls).to.be.within(1, 2)
    })

    it('refuses an empty command', async () => {
      let message = ''
      await guestExec({home: '/h', ip: '1.2.3.4'}, []).catch((error: Error) => (message = error.message))
      expect(message).to.match(/needs a command/)
    })
  })

  describe('vmContext and sendPluginRequest', () => {
    let dir: string
    let home: string
    let server: ControlServer | undefined
    const requests: ControlRequest[] = []

    const serveDaemon = async (answer: (request: ControlRequest) => ControlResponse) => {
      const path = controlSocketPath(homeLayout(home))
      mkdirSync(join(home, 'run'), {recursive: true})
      server = await serveControl(path, (request, reply) => {
        requests.push(request)
        reply(answer(request))
      })
    }

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'dlite-plugin-api-'))
      home = join(dir, 'home')
      requests.length = 0
    })
    afterEach(async () => {
      await server?.close()
      server = undefined
      rmSync(dir, {recursive: true, force: true})
    })

    it('says when dlite is not installed', async () => {
      expect(await vmContext({home})).to.deep.equal({home, installed: false})
    })

    it('is installed but has no VM while no daemon answers', async () => {
      createConfig(home, sampleConfig())
      expect(await vmContext({home})).to.deep.equal({home, installed: true, network: 'bridged'})
    })

    it('says a stopped VM uses user-mode networking, so a plugin can refuse before it starts', async () => {
      createConfig(home, {...sampleConfig(), network: 'user'})
      expect(await vmContext({home})).to.deep.equal({home, installed: true, network: 'user'})
    })

    it('describes a running VM as the vm-ready hook does', async () => {
      createConfig(home, {...sampleConfig(), subnet: '10.99.0.0/24', dockerSocket: join(dir, 'docker.sock')})
      await serveDaemon(() => ({type: 'status', status: {
        state: 'running', pid: 1, network: 'bridged', ip: '10.99.0.2', hostname: 'local.docker', dockerSocket: join(dir, 'docker.sock'),
        dockerEndpoint: 'tcp://10.99.0.2:2376', dockerContext: 'dlite-x', restarts: 0,
      }}))
      const context = await vmContext({home})
      expect(context.vm).to.deep.equal({
        home, network: 'bridged', ip: '10.99.0.2', hostname: 'local.docker', subnet: '10.99.0.0/24', hostIp: '10.99.0.1',
        bridge: networkNames(home).bridge, docker: {kind: 'unix', socketPath: join(dir, 'docker.sock')},
      })
    })

    it('carries a plugin request to the daemon and its answer or error back', async () => {
      createConfig(home, sampleConfig())
      await serveDaemon((request) => request.op === 'plugin' && request.plugin === 'dlite-x'
        ? {type: 'plugin', result: {routes: ['172.17.0.0/16']}}
        : {type: 'error', error: 'plugin dlite-y did not answer in the daemon'})
      expect(await sendPluginRequest(home, 'dlite-x', {action: 'status'})).to.deep.equal({routes: ['172.17.0.0/16']})
      expect(requests[0]).to.deep.equal({op: 'plugin', plugin: 'dlite-x', request: {action: 'status'}})
      let message = ''
      await sendPluginRequest(home, 'dlite-y', {}).catch((error: Error) => (message = error.message))
      expect(message).to.equal('plugin dlite-y did not answer in the daemon')
    })

    it('fails clearly when the daemon is not running', async () => {
      createConfig(home, sampleConfig())
      let message = ''
      await sendPluginRequest(home, 'dlite-x', {}).catch((error: Error) => (message = error.message))
      expect(message).to.equal('the dlite daemon is not running')
    })

    it('keeps plugin state under the home', () => {
      expect(pluginStateDir('/h', 'dlite-dns')).to.equal('/h/plugins/dlite-dns')
    })
  })

  describe('pluginDataDir', () => {
    it('follows DLITE_DATA_DIR, then XDG_DATA_HOME, then ~/.local/share', () => {
      expect(pluginDataDir({DLITE_DATA_DIR: '/d'})).to.equal('/d')
      expect(pluginDataDir({XDG_DATA_HOME: '/x'})).to.equal('/x/dlite')
    })

    it('under sudo, is the invoking user\'s, not root\'s', function () {
      if (process.getuid?.() !== 0) this.skip()
      const dir = pluginDataDir({SUDO_UID: '0', SUDO_GID: '0', XDG_DATA_HOME: '/root-xdg'})
      expect(dir).to.equal('/root/.local/share/dlite')
    })
  })
})
