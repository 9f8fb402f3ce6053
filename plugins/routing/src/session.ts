// dlite-routing inside the daemon: one Router per running VM, kept between hook calls (the daemon is one
// long-lived process), driven by the lifecycle hooks and by the commands' requests.
import type {PluginRequestEvent, VmLifecycleEvent, VmReadyEvent} from 'dlite-cli/plugin'

import {parseRequest, type DisableAnswer, type EnableAnswer, type StatusAnswer} from './requests.js'
import type {Router} from './router.js'
import {PLUGIN_NAME} from './setting.js'

export interface SessionDeps {
  /** A router for this VM; `event.docker` is absent for vm-stopping. */
  makeRouter: (event: VmLifecycleEvent & Partial<Pick<VmReadyEvent, 'docker'>>) => Router
  /** Whether the user turned routing on for this home (state.json). */
  isEnabled: (home: string) => boolean
  log: (line: string) => void
}

export class RoutingSession {
  private router?: Router

  constructor(private readonly deps: SessionDeps) {}

  /** Every boot (and every reboot after a crash): a fresh guest, so the guest rule and routes are applied again. */
  async vmReady(event: VmReadyEvent): Promise<void> {
    this.router?.unwatch()
    this.router = this.deps.makeRouter(event)
    if (!this.deps.isEnabled(event.home)) return
    const result = await this.router.apply(false)
    this.router.watch()
    this.deps.log(`routing ${result.routes.map((r) => `${r.subnet} (${r.network ?? '?'})`).join(', ') || 'no networks'} via ${event.ip}` +
      `${result.conflicts.length > 0 ? `; left out for conflicts: ${result.conflicts.map((c) => c.subnet).join(', ')}` : ''}; following docker's network events`)
  }

  /** Docker still answers, but the routes must go before the VM's address stops answering. */
  async vmStopping(event: VmLifecycleEvent): Promise<void> {
    const router = this.router ?? this.deps.makeRouter(event)
    router.unwatch()
    const {removed} = await router.remove({guest: false}) // the guest is powering off: its rules go with it
    if (removed.length > 0) this.deps.log(`removed routes ${removed.join(', ')}`)
  }

  vmStopped(): void {
    this.router?.unwatch()
    this.router = undefined
  }

  /** A command's request; undefined when it is for another plugin. */
  async request(event: PluginRequestEvent): Promise<EnableAnswer | DisableAnswer | StatusAnswer | undefined> {
    if (event.plugin !== PLUGIN_NAME) return undefined
    const request = parseRequest(event.request)
    this.router ??= this.deps.makeRouter(event)
    switch (request.op) {
      case 'enable': {
        const result = await this.router.apply(true)
        this.router.watch()
        this.deps.log(`enabled: routing ${result.routes.map((r) => r.subnet).join(', ') || 'no networks yet'}`)
        return result
      }
      case 'disable': {
        this.router.unwatch()
        const result = await this.router.remove({guest: true})
        this.deps.log(`disabled: removed ${result.removed.join(', ') || 'no routes'} and the guest rule`)
        return result
      }
      case 'status':
        return this.router.status()
    }
  }
}
