import {Flags} from '@oclif/core'
import {join} from 'node:path'

import {DliteCommand, MAX_TIMEOUT_SECONDS} from '../base-command.js'
import type {DliteConfig} from '../config/index.js'
import type {StageName, VmStatus} from '../daemon/control-protocol.js'
import {activateContext, shouldActivate, type ContextActivation} from '../lifecycle/context-activation.js'
import {startRefusal, startVm} from '../lifecycle/vm-control.js'
import {requireInstalled} from '../lifecycle/installed.js'
import {dliteHome} from '../paths.js'
import {stagePipeline} from '../tasks/stage-tasks.js'

const STAGES: StageName[] = ['network', 'share', 'vm', 'boot', 'docker', 'socket', 'ports', 'context', 'plugins']

export interface StartOutcome {
  alreadyRunning: boolean
  status: VmStatus
  /** Whether the docker context became the current one (absent with --no-activate). */
  context?: ContextActivation
}

export default class Start extends DliteCommand {
  static override summary = 'Start the VM; returns when docker answers through the host socket'
  static override description = 'Makes dlite\'s docker context the current one, so a plain `docker ps` reaches the VM (--no-activate, or `activateContext: false` in the config, leaves the current context alone).'
  static override examples = ['<%= config.bin %> start', '<%= config.bin %> start --timeout 300 --json', '<%= config.bin %> start --no-activate']
  static override flags = {
    timeout: Flags.integer({description: 'seconds to wait for docker to be ready', default: 300, min: 5, max: MAX_TIMEOUT_SECONDS}),
    activate: Flags.boolean({description: 'make the dlite docker context current [default: yes, unless the config says no]', allowNo: true}),
  }

  async run(): Promise<StartOutcome> {
    const {flags} = await this.parse(Start)
    return this.startVm(flags.timeout, flags.activate)
  }

  /** The start pipeline and its report; `restart` runs it after its stop. */
  protected async startVm(timeoutS: number, activate: boolean | undefined): Promise<StartOutcome> {
    const home = dliteHome()
    const config = await requireInstalled(home, (m, fix) => this.runtimeError(m, fix))
    const entry = join(this.config.root, 'bin', 'run.js')
    const refusal = startRefusal(home, entry, config)
    if (refusal) this.runtimeError(refusal.message, refusal.fix)
    const pipeline = stagePipeline(STAGES, this.jsonEnabled() ? 'silent' : process.stdout.isTTY ? 'default' : 'simple')
    const shown = pipeline.listr.run().catch(() => {})
    let result: StartOutcome
    try {
      result = await startVm({home, entry, network: config.network, timeoutMs: timeoutS * 1000, onStage: pipeline.onEvent})
      if (result.alreadyRunning) pipeline.abort(new Error('already running'))
      await shown
    } catch (error) {
      pipeline.abort(error as Error)
      await shown
      this.runtimeError(`dlite did not start: ${(error as Error).message}`, 'run `dlite logs` or `dlite doctor` to see why')
    }
    if (shouldActivate(activate, config)) result.context = await activateContext(home, result.status.dockerContext, config.owner)
    if (!this.jsonEnabled()) this.log(this.report(result, config))
    return result
  }

  private report(result: StartOutcome, config: DliteConfig): string {
    const {status, context} = result
    const lines = [result.alreadyRunning
      ? `dlite is already running at ${status.ip} (${config.hostname}).`
      : status.network === 'user'
        ? `dlite is running: docker at unix://${config.dockerSocket} (docker context ${status.dockerContext}); published ports answer on localhost, the host is host.docker.internal in containers.`
        : `dlite is running: docker at unix://${config.dockerSocket} (docker context ${status.dockerContext}), VM at ${status.ip} (${config.hostname}).`]
    if (context?.outcome === 'made current') lines.push(`The docker context ${context.context} is now current${context.previous ? ` (was ${context.previous}; \`dlite uninstall\` puts it back)` : ''}: \`docker ps\` reaches dlite.`)
    if (context?.outcome === 'failed') lines.push(`Could not make the docker context ${context.context} current: ${context.reason}. Use \`docker --context ${context.context}\` or eval "$(dlite env)".`)
    if (context?.overriddenBy) lines.push(`Note: ${context.overriddenBy}.`)
    return lines.join('\n')
  }
}
