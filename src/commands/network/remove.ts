import {join} from 'node:path'

import {DliteCommand} from '../../base-command.js'
import {removeHelper, type HelperRemoveResult} from '../../helper/setup.js'
import {dliteHome} from '../../paths.js'

export default class NetworkRemove extends DliteCommand {
  static override summary = 'Undo dlite network setup: stop the root helper, take its bridge, NAT and hosts line down, forget the home (root)'
  static override examples = ['sudo <%= config.bin %> network remove']

  async run(): Promise<HelperRemoveResult> {
    await this.parse(NetworkRemove)
    if (process.getuid?.() !== 0) this.runtimeError('`dlite network remove` is root\'s work', 'run it with sudo: sudo dlite network remove')
    let result: HelperRemoveResult
    try {
      result = await removeHelper(dliteHome(), join(this.config.root, 'bin', 'run.js'))
    } catch (error) {
      this.runtimeError(`the root helper was not fully removed: ${(error as Error).message}`, 'run `sudo dlite network remove` again')
    }
    if (!this.jsonEnabled()) this.log(result.removed.length > 0 ? `Removed: ${result.removed.join(', ')}.` : 'This home was not registered with the root helper; nothing to do.')
    return result
  }
}
