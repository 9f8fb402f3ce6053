// What the routing commands share: the kit's command base (the core's --json, exit codes, fixes and renderer
// choice) and the one shape every routing command has.
import {KitCommand} from 'dlite-kit/command'
import type {Renderer} from 'dlite-kit/errors'
import {loadDlite} from 'dlite-kit/load-dlite'

import type {Dlite} from './dlite.js'

export abstract class RoutingCommand extends KitCommand {
  protected dlite(): Promise<Dlite> {
    return loadDlite<Dlite>(this.config)
  }

  /**
   * The whole of a routing command: validates the flags, runs the work against dlite with this command's
   * renderer, prints the outcome as text unless --json (oclif prints what run() returns), and turns a failure
   * into our exit code and fix.
   */
  protected async perform<T>(work: (dlite: Dlite, renderer: Renderer) => Promise<T>, render: (outcome: T) => string): Promise<T> {
    await this.parse(this.ctor)
    try {
      const outcome = await work(await this.dlite(), this.renderer())
      if (!this.jsonEnabled()) this.log(render(outcome))
      return outcome
    } catch (error) {
      this.fail(error)
    }
  }
}
