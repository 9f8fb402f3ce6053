import type {VmStatus} from '../daemon/control-protocol.js'
import {DliteCommand} from '../base-command.js'
import {requireInstalled} from '../lifecycle/installed.js'
import {pauseVm} from '../lifecycle/vm-control.js'
import {dliteHome} from '../paths.js'

export default class Pause extends DliteCommand {
  static override summary = 'Pause the VM: its CPUs stop where they are and use nothing, its memory and containers are kept'
  static override description = 'docker and published ports wait (their connections are held) until `dlite resume` or ' +
    '`dlite start` lets it go on; the guest\'s clock is set from the host\'s as it does. `dlite stop` stops a paused VM cleanly.'
  static override examples = ['<%= config.bin %> pause', '<%= config.bin %> pause --json']

  async run(): Promise<VmStatus> {
    await this.parse(Pause)
    const home = dliteHome()
    await requireInstalled(home, (m, fix) => this.runtimeError(m, fix))
    const status = await pauseVm(home).catch((error: unknown) => this.fail(error))
    if (!this.jsonEnabled()) this.log('dlite is paused: `dlite resume` lets it go on.')
    return status
  }
}
