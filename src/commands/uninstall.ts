import {Flags} from '@oclif/core'
import {join} from 'node:path'

import {DliteCommand} from '../base-command.js'
import {uninstall, type UninstallResult} from '../lifecycle/uninstall.js'
import {dliteHome} from '../paths.js'

export default class Uninstall extends DliteCommand {
  static override summary = 'Stop the VM and remove its service, hosts line and docker context; --purge also deletes DLITE_HOME'
  static override examples = ['<%= config.bin %> uninstall', '<%= config.bin %> uninstall --purge --yes']
  static override flags = {
    purge: Flags.boolean({description: 'also delete DLITE_HOME: the disk with every image, container and volume', default: false}),
    yes: Flags.boolean({char: 'y', description: 'do not ask before purging', default: false}),
  }

  async run(): Promise<UninstallResult> {
    const {flags} = await this.parse(Uninstall)
    const home = dliteHome()
    if (flags.purge && !flags.yes) {
      if (!process.stdin.isTTY || this.jsonEnabled()) {
        this.usageError(`--purge deletes ${home} and everything in it`, 'add --yes to confirm')
      }
      // loaded only when a question is asked: --yes and --json never pay for the prompt library
      const {confirm} = await import('@inquirer/prompts')
      const sure = await confirm({message: `Delete ${home} with the VM's disk (all images, containers and volumes)?`, default: false})
      if (!sure) this.runtimeError('nothing was removed')
    }
    const result = await uninstall(home, {purge: flags.purge, entry: join(this.config.root, 'bin', 'run.js')})
    if (!this.jsonEnabled()) {
      if (!result.wasInstalled) this.log(`dlite was not installed in ${home}${result.purged ? ' (removed what was left)' : ''}.`)
      else this.log(`dlite uninstalled${result.purged ? ` and ${home} deleted` : ` (${home} kept; --purge deletes it)`}. Docker context: ${result.context}.` +
        `${result.systemSocket === 'none' ? '' : ` ${result.systemSocket}.`}${result.rootHelper === 'none' ? '' : ` Root helper: ${result.rootHelper}.`}`)
    }
    return result
  }
}
