// `dlite start` as a listr2 pipeline fed by the daemon's stage events, and what it reports at the end; shared by
// start, restart and `config set --restart`.
import type {Renderer} from 'dlite-kit/errors'

import type {DliteConfig} from '../config/index.js'
import type {StageName, VmStatus} from '../daemon/control-protocol.js'
import {activateContext, shouldActivate, type ContextActivation} from '../lifecycle/context-activation.js'
import {startVm} from '../lifecycle/vm-control.js'
import {stagePipeline} from './stage-tasks.js'

const STAGES: StageName[] = ['network', 'share', 'vm', 'boot', 'docker', 'socket', 'ports', 'context', 'plugins']

export interface StartOutcome {
  alreadyRunning: boolean
  /** It was paused, and the start let it go on. */
  resumed?: boolean
  status: VmStatus
  /** Whether the docker context became the current one (absent with --no-activate). */
  context?: ContextActivation
}

export interface StartPipelineOptions {
  home: string
  config: DliteConfig
  entry: string
  timeoutS: number
  /** The start's --[no-]activate; undefined: the config decides. */
  activate: boolean | undefined
  /** --cold: boot rather than resume a saved state. */
  cold?: boolean
  renderer: Renderer
}

/** Starts the VM showing each stage; throws the daemon's reason when it does not come up. */
export async function startWithPipeline(options: StartPipelineOptions): Promise<StartOutcome> {
  const {home, config, entry} = options
  const pipeline = stagePipeline(STAGES, options.renderer)
  const shown = pipeline.listr.run().catch(() => {})
  let result: StartOutcome
  try {
    result = await startVm({home, entry, network: config.network, timeoutMs: options.timeoutS * 1000, cold: options.cold, onStage: pipeline.onEvent})
    if (result.alreadyRunning) pipeline.abort(new Error(result.resumed ? 'paused: resumed it' : 'already running'))
  } catch (error) {
    pipeline.abort(error as Error)
    throw error
  } finally {
    await shown
  }
  if (shouldActivate(options.activate, config)) result.context = await activateContext(home, result.status.dockerContext, config.owner)
  return result
}

export function startReport(result: StartOutcome, config: DliteConfig): string {
  const {status, context} = result
  const lines = [result.resumed
    ? `dlite was paused and runs again at ${status.ip} (${config.hostname}).`
    : result.alreadyRunning
    ? `dlite is already running at ${status.ip} (${config.hostname}).`
    : status.network === 'user'
      ? `dlite is running: docker at unix://${config.dockerSocket} (docker context ${status.dockerContext}); published ports answer on localhost, the host is host.docker.internal in containers.`
      : `dlite is running: docker at unix://${config.dockerSocket} (docker context ${status.dockerContext}), VM at ${status.ip} (${config.hostname}).`]
  if (context?.outcome === 'made current') lines.push(`The docker context ${context.context} is now current${context.previous ? ` (was ${context.previous}; \`dlite uninstall\` puts it back)` : ''}: \`docker ps\` reaches dlite.`)
  if (context?.outcome === 'failed') lines.push(`Could not make the docker context ${context.context} current: ${context.reason}. Use \`docker --context ${context.context}\` or eval "$(dlite env)".`)
  if (context?.overriddenBy) lines.push(`Note: ${context.overriddenBy}.`)
  return lines.join('\n')
}
