import {Args} from '@oclif/core'

import {DliteCommand} from '../base-command.js'
import {runHelper} from '../helper/serve.js'

export default class Helper extends DliteCommand {
  static override hidden = true
  static override summary = 'Run the root helper for one registered home in the foreground (sudo dlite network setup starts it)'
  static override args = {
    id: Args.string({description: 'the home id of the registration', required: true}),
  }

  async run(): Promise<void> {
    const {args} = await this.parse(Helper)
    try {
      await runHelper(args.id)
    } catch (error) {
      this.runtimeError(`the root helper stopped: ${(error as Error).message}`, 'run `sudo dlite network setup` again')
    }
    process.exit(0)
  }
}
