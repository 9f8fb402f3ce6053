// What every dlite command shares: `--json` (oclif prints the value `run` returns as one JSON document),
// and usage errors that exit 2 and name the fix.
import {Command} from '@oclif/core'

export const EXIT_RUNTIME = 1
export const EXIT_USAGE = 2

export abstract class DliteCommand extends Command {
  static override enableJsonFlag = true

  // oclif's JSON mode takes the exit code from `err.exitCode` only; ours live in `err.oclif.exit` (usage
  // errors are 2), so carry them over before oclif prints the error document.
  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    process.exitCode ??= err.oclif?.exit ?? err.exitCode ?? EXIT_RUNTIME
    return super.catch(err)
  }

  /** A bad flag or argument: exit 2, nothing changed. */
  protected usageError(message: string, fix?: string): never {
    this.error(message, {exit: EXIT_USAGE, suggestions: fix ? [fix] : undefined})
  }

  /** Something went wrong while doing the work: exit 1. */
  protected runtimeError(message: string, fix?: string): never {
    this.error(message, {exit: EXIT_RUNTIME, suggestions: fix ? [fix] : undefined})
  }
}
