import {Flags} from '@oclif/core'
import {join} from 'node:path'

import {DliteCommand, MAX_TIMEOUT_SECONDS} from '../base-command.js'
import {requireInstalled} from '../lifecycle/installed.js'
import {startRefusal} from '../lifecycle/vm-control.js'
import {dliteHome} from '../paths.js'
import {startReport, startWithPipeline, type StartOutcome} from '../tasks/start-pipeline.js'

export type {StartOutcome} from '../tasks/start-pipeline.js'

export default class Start extends DliteCommand {
  static override summary = 'Start the VM; returns when docker answers through the host socket'
  static override description = 'Resumes the VM where dlite stop saved its state (containers running, with their uptime), else boots it. Makes dlite\'s docker context the current one, so a plain `docker ps` reaches the VM (--no-activate, or `activateContext: false` in the config, leaves the current context alone).'
  static override examples = ['<%= config.bin %> start', '<%= config.bin %> start --timeout 300 --json', '<%= config.bin %> start --no-activate', '<%= config.bin %> start --cold']
  static override flags = {
    timeout: Flags.integer({description: 'seconds to wait for docker to be ready', default: 300, min: 5, max: MAX_TIMEOUT_SECONDS}),
    activate: Flags.boolean({description: 'make the dlite docker context current [default: yes, unless the config says no]', allowNo: true}),
    cold: Flags.boolean({description: 'boot the VM even where dlite stop saved its state (the saved state is discarded)'}),
  }

  async run(): Promise<StartOutcome> {
    const {flags} = await this.parse(Start)
    return this.startVm(flags.timeout, flags.activate, flags.cold)
  }

  /** The start pipeline and its report; restart and `config set --restart` run it after their stop. */
  protected async startVm(timeoutS: number, activate: boolean | undefined, cold = false): Promise<StartOutcome> {
    const home = dliteHome()
    const config = await requireInstalled(home, (m, fix) => this.runtimeError(m, fix))
    const entry = join(this.config.root, 'bin', 'run.js')
    const refusal = startRefusal(home, config)
    if (refusal) this.runtimeError(refusal.message, refusal.fix)
    let result: StartOutcome
    try {
      const renderer = this.renderer()
      result = await startWithPipeline({home, config, entry, timeoutS, activate, cold, renderer})
    } catch (error) {
      this.runtimeError(`dlite did not start: ${(error as Error).message}`, 'run `dlite logs` or `dlite doctor` to see why')
    }
    if (!this.jsonEnabled()) this.log(startReport(result, config))
    return result
  }
}
