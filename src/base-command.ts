// What every dlite command shares: `--json` (oclif prints the value `run` returns as one JSON document),
// and usage errors that exit 2 and name the fix.
import {Command, Flags} from '@oclif/core'

import {PROFILE_NAME_PATTERN, ProfileNameError} from './paths.js'

export const EXIT_RUNTIME = 1
export const EXIT_USAGE = 2

/** The most any `--timeout` flag takes, in seconds (a day): more is a typo, and far more overflows Node's timers. */
export const MAX_TIMEOUT_SECONDS = 86_400

// oclif's own parse errors that say what is wrong but not what to do.
const PARSE_ERROR_FIXES: Array<[RegExp, (flag: string) => string]> = [
  [/^Flag (--[\w-]+) expects a value/, (flag) => `give it a value: ${flag} <value> (write ${flag}=<value> for a value that starts with -)`],
  [/^Flag (--[\w-]+) can only be specified once/, (flag) => `give ${flag} once`],
]

export abstract class DliteCommand extends Command {
  static override enableJsonFlag = true
  static override baseFlags = {
    profile: Flags.string({
      description: 'the named instance to act on (its home is ~/.dlite-profiles/NAME; "default" is ~/.dlite); DLITE_HOME wins over it',
      env: 'DLITE_PROFILE',
      helpGroup: 'GLOBAL',
    }),
  }

  // The profile is settled before run(): every domain module finds the home through DLITE_PROFILE (paths.ts), and
  // the daemon that start spawns inherits it.
  override async init(): Promise<void> {
    await super.init()
    const {flags} = await this.parse(this.ctor as typeof DliteCommand)
    if (flags.profile === undefined) return
    if (flags.profile !== 'default' && !PROFILE_NAME_PATTERN.test(flags.profile)) {
      this.usageError(new ProfileNameError(flags.profile).message, 'for example --profile work (dlite list shows the instances)')
    }
    process.env.DLITE_PROFILE = flags.profile
  }

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
}

/** Control characters other than newline and tab, written as \u001b etc. */
export function escapeControlCharacters(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
