// What the routing commands share, as the core's commands do: --json (oclif prints what run() returns),
// exit 2 for usage errors and 1 for runtime errors, also in JSON mode, each with a fix where there is one.
import {Command} from '@oclif/core'

import {loadDlite, type Dlite} from './dlite.js'
import {RoutingError} from './errors.js'
import type {Renderer} from './pipelines.js'

export abstract class RoutingCommand extends Command {
  static override enableJsonFlag = true

  // oclif's JSON mode takes the exit code from `err.exitCode` only; ours live in `err.oclif.exit`.
  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    process.exitCode ??= err.oclif?.exit ?? err.exitCode ?? 1
    return super.catch(err)
  }

  protected dlite(): Promise<Dlite> {
    return loadDlite(this.config)
  }

  /** Silent for --json, line by line when not on a terminal, listr2's live view on one. */
  protected renderer(): Renderer {
    if (this.jsonEnabled()) return 'silent'
    return process.stdout.isTTY ? 'default' : 'simple'
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

  /** Turns a failure into oclif's error with our exit code and fix. */
  protected fail(error: unknown): never {
    if (error instanceof RoutingError) this.error(error.message, {exit: error.exit, suggestions: error.fix ? [error.fix] : undefined})
    this.error((error as Error).message ?? String(error), {exit: 1})
  }
}
