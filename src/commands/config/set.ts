import {Args, Flags} from '@oclif/core'
import {join} from 'node:path'

import {DliteCommand, MAX_TIMEOUT_SECONDS} from '../../base-command.js'
import {CLEAN_STOP_TIMEOUT_MS} from '../../daemon/control-protocol.js'
import {invokingUser} from '../../host/invoking-user.js'
import {formatValidationErrors, gatherInstallHostFacts} from '../../install/validate.js'
import {describeChange, needsRestart, planConfigChange, SETTINGS, writeConfigChange} from '../../lifecycle/config-change.js'
import {requireInstalled} from '../../lifecycle/installed.js'
import {startRefusal, stopVm} from '../../lifecycle/vm-control.js'
import {vmStatus} from '../../lifecycle/vm-status.js'
import {dliteHome} from '../../paths.js'
import {startReport, startWithPipeline, type StartOutcome} from '../../tasks/start-pipeline.js'
import Start from '../start.js'

export default class ConfigSet extends DliteCommand {
  static override summary = 'Change settings after install, keeping the disk and everything on it'
  static override description = `Settings: ${Object.keys(SETTINGS).join(', ')}. Each is checked as install checks its flag; one bad value changes nothing. The disk only grows (the guest's file system grows with it at the next start). A running VM takes the change at its next start: --restart does that now.`
  static override examples = ['<%= config.bin %> config set memory=4 cpus=2', '<%= config.bin %> config set disk=40 --restart', '<%= config.bin %> config set extra="--registry-mirror=https://mirror.example"']
  static override strict = false
  static override args = {
    settings: Args.string({description: 'KEY=VALUE, one or more', required: true}),
  }
  static override flags = {
    restart: Flags.boolean({description: 'restart a running VM now, so the change takes effect', default: false}),
    timeout: Start.flags.timeout,
    'stop-timeout': Flags.integer({description: 'with --restart: seconds to wait for a clean power-off', default: CLEAN_STOP_TIMEOUT_MS / 1000, min: 1, max: MAX_TIMEOUT_SECONDS}),
  }

  async run(): Promise<{changed: Array<{name: string; from: string; to: string}>; restartNeeded: boolean; restarted?: StartOutcome}> {
    const {argv, flags} = await this.parse(ConfigSet)
    const home = dliteHome()
    const config = await requireInstalled(home, (m, fix) => this.runtimeError(m, fix))
    const facts = await gatherInstallHostFacts({homeDir: invokingUser().home, dliteHome: home})
    const plan = planConfigChange(argv as string[], config, facts)
    if (!plan.ok) this.usageError(`invalid settings, nothing was changed:\n${formatValidationErrors(plan.errors)}`)
    const {change} = plan
    writeConfigChange(home, change)
    const running = (await vmStatus(home)) !== undefined
    const restartNeeded = running && needsRestart(change)
    if (!this.jsonEnabled()) {
      this.log(describeChange(change))
      if (restartNeeded && !flags.restart) this.log('The VM is running: the change takes effect at its next start (`dlite restart`, or --restart now).')
    }
    if (!restartNeeded || !flags.restart) return {changed: change.changed, restartNeeded}
    const entry = join(this.config.root, 'bin', 'run.js')
    const refusal = startRefusal(home, change.next)
    if (refusal) this.runtimeError(`the change is saved, but ${refusal.message}`, refusal.fix)
    await stopVm(home, config, flags['stop-timeout'] * 1000, {cold: true})
    let restarted: StartOutcome
    try {
      const renderer = this.renderer()
      restarted = await startWithPipeline({home, config: change.next, entry, timeoutS: flags.timeout, activate: undefined, renderer})
    } catch (error) {
      this.runtimeError(`the change is saved, but dlite did not start again: ${(error as Error).message}`, 'run `dlite logs`, fix the setting with `dlite config set`, then `dlite start`')
    }
    if (!this.jsonEnabled()) this.log(startReport(restarted, change.next))
    return {changed: change.changed, restartNeeded: false, restarted}
  }
}
