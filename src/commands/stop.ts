import {Flags} from '@oclif/core'

import {DliteCommand, MAX_TIMEOUT_SECONDS} from '../base-command.js'
import {CLEAN_STOP_TIMEOUT_MS} from '../daemon/control-protocol.js'
import {isInstalled, readConfig} from '../config/index.js'
import {stopReport, stopVm, type StopResult} from '../lifecycle/vm-control.js'
import {dliteHome} from '../paths.js'

export default class Stop extends DliteCommand {
  static override summary = 'Stop the VM, saving its state for the next start to resume, and undo its host network'
  static override description = 'The guest syncs its disk and lets go of the shares; QEMU saves its memory and devices (about what the guest uses) and the next `dlite start` resumes it, containers running. Where the state cannot be saved (a container has a share mounted, --cold, save-state=false), the VM powers off: ACPI power-down, then a hard stop after --timeout.'
  static override examples = ['<%= config.bin %> stop', '<%= config.bin %> stop --cold', '<%= config.bin %> stop --timeout 10']
  static override flags = {
    timeout: Flags.integer({description: 'seconds to wait for a clean power-off before stopping hard', default: CLEAN_STOP_TIMEOUT_MS / 1000, min: 1, max: MAX_TIMEOUT_SECONDS}),
    cold: Flags.boolean({description: 'power the VM off rather than saving its state'}),
  }

  async run(): Promise<StopResult> {
    const {flags} = await this.parse(Stop)
    const home = dliteHome()
    const result = isInstalled(home) ? await stopVm(home, await readConfig(home), flags.timeout * 1000, {cold: flags.cold}) : {wasRunning: false, cleanedUp: []}
    if (!this.jsonEnabled()) {
      if (result.cleanedUp.length > 0) this.log(`Removed what a dlite daemon that died left behind: ${result.cleanedUp.join(', ')}.`)
      this.log(stopReport(result))
    }
    return result
  }
}
