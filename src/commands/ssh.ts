import {Args} from '@oclif/core'
import {spawn} from 'node:child_process'

import {DliteCommand} from '../base-command.js'
import {keyPaths, sshClientArgs} from '../keys/index.js'
import {vmStatus} from '../lifecycle/vm-status.js'
import {dliteHome, homeLayout} from '../paths.js'
import {run} from 'dlite-kit/exec'

export default class Ssh extends DliteCommand {
  static override summary = 'Open a shell in the VM as user docker, or run a command there'
  static override description =
    "Uses dlite's own key and the host key pinned at install (no prompts). The remote command's exit code is dlite's."
  static override examples = ['<%= config.bin %> ssh', '<%= config.bin %> ssh -- uname -r', '<%= config.bin %> ssh -- sudo dmesg']
  static override strict = false
  static override args = {command: Args.string({description: 'command to run in the VM (after --)', required: false})}

  async run(): Promise<{exitCode: number; stdout?: string; stderr?: string}> {
    const {argv} = await this.parse(Ssh)
    if (this.jsonEnabled() && argv.length === 0) this.usageError('--json needs a command to run', 'dlite ssh --json -- <command>')
    const home = dliteHome()
    const status = await vmStatus(home)
    if (status?.state !== 'running') this.runtimeError('dlite is not running', 'start it with `dlite start`')
    const target = status.ssh ? {ip: status.ssh.host, port: status.ssh.port} : {ip: status.ip}
    const args = [...sshClientArgs(keyPaths(homeLayout(home).keys), target), ...(argv as string[])]
    if (this.jsonEnabled()) {
      const result = await run('ssh', args)
      process.exitCode = result.code
      return {exitCode: result.code, stdout: result.stdout, stderr: result.stderr}
    }
    // An interactive shell needs a terminal; `-t` only when we have one.
    if (argv.length === 0 && process.stdin.isTTY) args.unshift('-t')
    const exitCode = await new Promise<number>((resolve) => {
      const child = spawn('ssh', args, {stdio: 'inherit'})
      child.on('error', () => resolve(127))
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
    })
    process.exitCode = exitCode
    return {exitCode}
  }
}
