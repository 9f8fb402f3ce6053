// The plugins' side of the daemon: lifecycle hooks fired in this process (as the VM's user), plugin requests
// from commands, and the dockerd arguments plugins add before a boot. A failing plugin is logged, never fatal.
import {dockerdArgsProblem} from '../guest/dockerd-args.js'
import {HOOKS, type GuestConfig, type PluginRequestEvent, type VmLifecycleEvent, type VmReadyEvent} from '../plugin-api/index.js'

/** One plugin's answer to a hook: what its handler returned, or the message of what it threw. */
export type HookResult = {plugin: string; result: unknown; error?: undefined} | {plugin: string; result?: undefined; error: string}

export type FireHook = (event: string, payload: VmLifecycleEvent | VmReadyEvent | PluginRequestEvent) => Promise<HookResult[]>

export class HookDispatch {
  constructor(private readonly fire: FireHook, private readonly log: (line: string) => void) {}

  ready(event: VmReadyEvent): Promise<HookResult[]> {
    return this.fire(HOOKS.vmReady, event)
  }

  /** Fired for its effects; a failure is logged. */
  async notify(hook: typeof HOOKS.vmStopping | typeof HOOKS.vmStopped, event: VmLifecycleEvent): Promise<void> {
    await this.fire(hook, event).catch((error: Error) => this.log(`${hook} hook: ${error.message}`))
  }

  async pluginRequest(event: VmReadyEvent, plugin: string, request: unknown): Promise<unknown> {
    const results = await this.fire(HOOKS.pluginRequest, {...event, plugin, request})
    const answer = results.find((r) => r.plugin === plugin)
    if (!answer) throw new Error(`plugin ${plugin} did not answer in the daemon: restart dlite after installing it (\`dlite stop && dlite start\`)`)
    if (answer.error !== undefined) throw new Error(answer.error)
    return answer.result
  }

  /** dockerd arguments that plugins add for the coming boot (dlite:guest-config). */
  async dockerArgs(event: VmLifecycleEvent): Promise<string[]> {
    const dockerArgs: string[] = []
    for (const {plugin, result} of await this.fire(HOOKS.guestConfig, event)) {
      const args = (result as GuestConfig | undefined)?.dockerArgs
      if (args === undefined) continue
      // A plugin's bad arguments must not fail the boot: they are left out, under the rule the config's obey.
      const problem = Array.isArray(args) && args.every((a) => typeof a === 'string') ? dockerdArgsProblem(args) : {message: 'dockerArgs is not a list of strings', fix: ''}
      if (!problem) dockerArgs.push(...args)
      else this.log(`plugin ${plugin}: ignoring its dockerArgs: ${problem.message}`)
    }
    return dockerArgs
  }
}

/** The start pipeline's line for the plugins stage: which plugins failed, if any. */
export function failedPlugins(results: HookResult[]): string | undefined {
  const failed = results.filter((r) => r.error !== undefined)
  return failed.length > 0 ? `${failed.map((r) => `${r.plugin} failed: ${r.error}`).join('; ')} (dlite logs)` : undefined
}
