// What every dlite command shares: `--json` (oclif prints the value `run` returns as one JSON document),
// and usage errors that exit 2 and name the fix.
import {Command} from '@oclif/core'

export const EXIT_RUNTIME = 1
export const EXIT_USAGE = 2

export abstract class DliteCommand extends Command {
  static override enableJsonFlag = true

  /** A bad flag or argument: exit 2, nothing changed. */
  protected usageError(message: string, fix?: string): never {
    this.error(message, {exit: EXIT_USAGE, suggestions: fix ? [fix] : undefined})
  }

  /** Something went wrong while doing the work: exit 1. */
  protected runtimeError(message: string, fix?: string): never {
    this.error(message, {exit: EXIT_RUNTIME, suggestions: fix ? [fix] : undefined})
  }
}
