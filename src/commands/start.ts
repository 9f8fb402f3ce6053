import {Flags} from '@oclif/core'
import {join} from 'node:path'

import {DliteCommand, MAX_TIMEOUT_SECONDS} from '../base-command.js'
import type {StageName, VmStatus} from '../daemon/control-protocol.js'
import {startRefusal, startVm} from '../lifecycle/vm-control.js'
import {requireInstalled} from '../lifecycle/installed.js'
import {dliteHome} from '../paths.js'
import {stagePipeline} from '../tasks/stage-tasks.js'

const STAGES: StageName[] = ['network', 'share', 'vm', 'boot', 'docker', 'socket', 'ports', 'context', 'plugins']

export default class Start extends DliteCommand {
  static override summary = 'Start the VM; returns when docker answers through the host socket'
  static override examples = ['<%= config.bin %> start', '<%= config.bin %> start --timeout 300 --json']
  static override flags = {
    timeout: Flags.integer({description: 'seconds to wait for docker to be ready', default: 300, min: 5, max: MAX_TIMEOUT_SECONDS}),
  }

  async run(): Promise<{alreadyRunning: boolean; status: VmStatus}> {
    const {flags} = await this.parse(Start)
    const home = dliteHome()
    const config = await requireInstalled(home, (m, fix) => this.runtimeError(m, fix))
    const entry = join(this.config.root, 'bin', 'run.js')
    const refusal = startRefusal(home, entry, config)
    if (refusal) this.runtimeError(refusal.message, refusal.fix)
    const pipeline = stagePipeline(STAGES, this.jsonEnabled() ? 'silent' : process.stdout.isTTY ? 'default' : 'simple')
    const shown = pipeline.listr.run().catch(() => {})
    try {
      const result = await startVm({
        home, entry, network: config.network, timeoutMs: flags.timeout * 1000, onStage: pipeline.onEvent,
      })
      if (result.alreadyRunning) pipeline.abort(new Error('already running'))
      await shown
      if (!this.jsonEnabled()) {
        this.log(result.alreadyRunning
          ? `dlite is already running at ${result.status.ip} (${config.hostname}).`
          : result.status.network === 'user'
            ? `dlite is running: docker at unix://${config.dockerSocket} (docker context ${result.status.dockerContext}); published ports answer on localhost, the host is host.docker.internal in containers.`
            : `dlite is running: docker at unix://${config.dockerSocket} (docker context ${result.status.dockerContext}), VM at ${result.status.ip} (${config.hostname}).`)
      }
      return result
    } catch (error) {
      pipeline.abort(error as Error)
      await shown
      this.runtimeError(`dlite did not start: ${(error as Error).message}`, 'run `dlite logs` or `dlite doctor` to see why')
    }
  }
}
