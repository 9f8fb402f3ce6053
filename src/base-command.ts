// What every dlite core command shares: the kit's command base (the same `--json`, exit codes, error fixes and
// renderer choice as the plugins' commands) and the `--profile` flag that picks the instance.
import {Flags} from '@oclif/core'
import {KitCommand} from 'dlite-kit/command'

import {PROFILE_NAME_PATTERN, ProfileNameError} from './paths.js'

/** The most any `--timeout` flag takes, in seconds (a day): more is a typo, and far more overflows Node's timers. */
export const MAX_TIMEOUT_SECONDS = 86_400

export abstract class DliteCommand extends KitCommand {
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
}
