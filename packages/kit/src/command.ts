// What every dlite command shares, the core's and the plugins': `--json` (oclif prints the value `run` returns
// as one JSON document), exit codes 2 for usage errors and 1 for runtime errors (also in JSON mode), each error
// with the fix where there is one, and listr2's renderer chosen the same way.
import {Command} from '@oclif/core'

import {CommandError, EXIT_RUNTIME, EXIT_USAGE, type Renderer} from './errors.js'

// oclif's own parse errors that say what is wrong but not what to do.
const PARSE_ERROR_FIXES: Array<[RegExp, (flag: string) => string]> = [
  [/^Flag (--[\w-]+) expects a value/, (flag) => `give it a value: ${flag} <value> (write ${flag}=<value> for a value that starts with -)`],
  [/^Flag (--[\w-]+) can only be specified once/, (flag) => `give ${flag} once`],
]

export abstract class KitCommand extends Command {
  static override enableJsonFlag = true

  // oclif's JSON mode takes the exit code from `err.exitCode` only; ours live in `err.oclif.exit` (usage
  // errors are 2), so carry them over before oclif prints the error document.
  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}; suggestions?: string[]}): Promise<unknown> {
    process.exitCode ??= err.oclif?.exit ?? err.exitCode ?? EXIT_RUNTIME
    for (const [pattern, fix] of PARSE_ERROR_FIXES) {
      const match = pattern.exec(err.message ?? '')
      if (match && !err.suggestions?.length) err.suggestions = [fix(match[1])]
    }
    // A bad value is echoed back in the message: its control characters must not reach the terminal raw.
    if (typeof err.message === 'string') err.message = escapeControlCharacters(err.message)
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

  /** A thrown failure as our exit: a CommandError keeps its exit code and fix, anything else exits 1. */
  protected fail(error: unknown): never {
    if (error instanceof CommandError) this.error(error.message, {exit: error.exit, suggestions: error.fix ? [error.fix] : undefined})
    this.runtimeError(error instanceof Error ? error.message : String(error))
  }

  /**
   * listr2's renderer: silent for --json, live on a terminal, plain lines otherwise; a command whose output is
   * data (a status, a list) passes `quietWhenPiped`, so scripts read only the data.
   */
  protected renderer(quietWhenPiped = false): Renderer {
    if (this.jsonEnabled()) return 'silent'
    if (process.stdout.isTTY) return 'default'
    return quietWhenPiped ? 'silent' : 'simple'
  }
}

/** Control characters other than newline and tab, written as \u001b etc. */
export function escapeControlCharacters(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
