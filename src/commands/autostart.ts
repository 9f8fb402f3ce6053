import {Args} from '@oclif/core'
import {join} from 'node:path'

import {DliteCommand} from '../base-command.js'
import {AutostartUnavailableError, setAutostart} from '../lifecycle/autostart.js'
import {requireInstalled} from '../lifecycle/installed.js'
import {dliteHome} from '../paths.js'

export default class Autostart extends DliteCommand {
  static override summary = 'Start the VM at login (on), or only when asked (off); without an argument, say which'
  static override description = 'Uses your own service manager: a systemd user unit on Linux (a system unit for a bridged VM), a LaunchAgent on macOS.'
  static override examples = ['<%= config.bin %> autostart on', '<%= config.bin %> autostart off', '<%= config.bin %> autostart --json']
  static override args = {
    state: Args.string({description: 'on or off', options: ['on', 'off']}),
  }

  async run(): Promise<{autostart: boolean; service?: string}> {
    const {args} = await this.parse(Autostart)
    const home = dliteHome()
    const config = await requireInstalled(home, (m, fix) => this.runtimeError(m, fix))
    if (args.state === undefined) {
      if (!this.jsonEnabled()) this.log(`autostart is ${config.autostart ? 'on' : 'off'} for ${home}`)
      return {autostart: config.autostart ?? false}
    }
    try {
      const result = await setAutostart(home, join(this.config.root, 'bin', 'run.js'), args.state === 'on')
      if (!this.jsonEnabled()) this.log(`autostart is ${args.state} (${result.service}): ${result.autostart ? 'the VM starts when you log in' : 'the VM starts when you run dlite start'}.`)
      return result
    } catch (error) {
      if (error instanceof AutostartUnavailableError) this.runtimeError(error.message, '`dlite start` still starts the VM; run it from your login scripts instead')
      throw error
    }
  }
}
