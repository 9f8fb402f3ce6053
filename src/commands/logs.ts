import {Flags} from '@oclif/core'

import {DliteCommand} from '../base-command.js'
import {followFile, logPath, tailLines} from '../lifecycle/log-files.js'
import {dliteHome} from '../paths.js'

/** More lines than any log holds: a bigger number is a typo. */
const MAX_LINES = 10_000_000

export default class Logs extends DliteCommand {
  static override summary = "Show the daemon's log, or the guest's serial console with --console"
  static override examples = [
    '<%= config.bin %> logs',
    '<%= config.bin %> logs --console --follow',
    '<%= config.bin %> logs --console --previous',
    '<%= config.bin %> logs -n 20 --json',
  ]
  static override flags = {
    follow: Flags.boolean({char: 'f', description: 'keep printing what is appended (Ctrl-C to stop)', default: false}),
    console: Flags.boolean({description: "the guest's serial console instead of the daemon's log", default: false}),
    previous: Flags.boolean({description: 'with --console: the boot before the current one (e.g. a start that failed)', default: false}),
    lines: Flags.integer({char: 'n', description: 'how many of the last lines to show', default: 100, min: 1, max: MAX_LINES}),
  }

  async run(): Promise<{path: string; lines: string[]}> {
    const {flags} = await this.parse(Logs)
    if (flags.follow && this.jsonEnabled()) this.usageError('--follow cannot be combined with --json', 'drop one of them')
    if (flags.previous && !flags.console) this.usageError('--previous is about the guest console', 'use `dlite logs --console --previous`')
    const path = logPath(dliteHome(), flags.console ? (flags.previous ? 'console.previous' : 'console') : 'daemon')
    const lines = tailLines(path, flags.lines)
    if (!this.jsonEnabled()) {
      if (lines.length === 0 && !flags.follow) this.log(`(no log yet at ${path})`)
      for (const line of lines) this.log(line)
    }
    if (flags.follow) {
      const abort = new AbortController()
      process.once('SIGINT', () => abort.abort())
      await followFile(path, (text) => process.stdout.write(text), abort.signal)
    }
    return {path, lines}
  }
}
