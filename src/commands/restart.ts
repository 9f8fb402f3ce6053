import {Flags} from '@oclif/core'

import {MAX_TIMEOUT_SECONDS} from '../base-command.js'
import {CLEAN_STOP_TIMEOUT_MS} from '../daemon/control-protocol.js'
import {requireInstalled} from '../lifecycle/installed.js'
import {stopVm} from '../lifecycle/vm-control.js'
import {dliteHome} from '../paths.js'
import Start, {type StartOutcome} from './start.js'

export default class Restart extends Start {
  static override summary = 'Stop the VM (if it runs) and start it again; returns when docker answers'
  static override description = 'Containers with a restart policy come back; the data disk, images and volumes are kept.'
  static override examples = ['<%= config.bin %> restart', '<%= config.bin %> restart --stop-timeout 10 --json']
  static override flags = {
    ...Start.flags,
    'stop-timeout': Flags.integer({description: 'seconds to wait for a clean power-off before stopping hard', default: CLEAN_STOP_TIMEOUT_MS / 1000, min: 1, max: MAX_TIMEOUT_SECONDS}),
  }

  override async run(): Promise<StartOutcome & {wasRunning: boolean}> {
    const {flags} = await this.parse(Restart)
    const home = dliteHome()
    const config = await requireInstalled(home, (m, fix) => this.runtimeError(m, fix))
    const {wasRunning} = await stopVm(home, config, flags['stop-timeout'] * 1000, {cold: true})
    if (!this.jsonEnabled()) this.log(wasRunning ? 'dlite stopped.' : 'dlite was not running.')
    return {wasRunning, ...(await this.startVm(flags.timeout, flags.activate))}
  }
}
