import {Flags} from '@oclif/core'

import {DliteCommand} from '../base-command.js'
import {CLEAN_STOP_TIMEOUT_MS} from '../daemon/control-protocol.js'
import {stopVm} from '../lifecycle/vm-control.js'
import {dliteHome} from '../paths.js'

export default class Stop extends DliteCommand {
  static override summary = 'Stop the VM (ACPI power-down, then a hard stop after --timeout) and undo its host network'
  static override examples = ['<%= config.bin %> stop', '<%= config.bin %> stop --timeout 10']
  static override flags = {
    timeout: Flags.integer({description: 'seconds to wait for a clean power-off before stopping hard', default: CLEAN_STOP_TIMEOUT_MS / 1000, min: 1}),
  }

  async run(): Promise<{wasRunning: boolean}> {
    const {flags} = await this.parse(Stop)
    const wasRunning = await stopVm(dliteHome(), flags.timeout * 1000)
    if (!this.jsonEnabled()) this.log(wasRunning ? 'dlite stopped.' : 'dlite is not running.')
    return {wasRunning}
  }
}
