import type {VmStatus} from '../daemon/control-protocol.js'
import {DliteCommand} from '../base-command.js'
import {requireInstalled} from '../lifecycle/installed.js'
import {resumeVm} from '../lifecycle/vm-control.js'
import {dliteHome} from '../paths.js'

export default class Resume extends DliteCommand {
  static override summary = 'Let a VM paused by dlite pause go on; its clock is set from the host\'s at once'
  static override examples = ['<%= config.bin %> resume', '<%= config.bin %> resume --json']

  async run(): Promise<VmStatus> {
    await this.parse(Resume)
    const home = dliteHome()
    await requireInstalled(home, (m, fix) => this.runtimeError(m, fix))
    const status = await resumeVm(home).catch((error: unknown) => this.fail(error))
    if (!this.jsonEnabled()) this.log(`dlite runs again at ${status.ip}.`)
    return status
  }
}
