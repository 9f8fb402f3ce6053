import {Args} from '@oclif/core'

import {DliteCommand} from '../../base-command.js'
import {SETTINGS, settingValues, type SettingName} from '../../lifecycle/config-change.js'
import {requireInstalled} from '../../lifecycle/installed.js'
import {dliteHome} from '../../paths.js'

export default class ConfigGet extends DliteCommand {
  static override summary = 'Print the settings that dlite config set can change, or one of them'
  static override examples = ['<%= config.bin %> config get', '<%= config.bin %> config get memory', '<%= config.bin %> config get --json']
  static override args = {
    key: Args.string({description: 'one setting', options: Object.keys(SETTINGS)}),
  }

  async run(): Promise<Partial<Record<SettingName, string>>> {
    const {args} = await this.parse(ConfigGet)
    const config = await requireInstalled(dliteHome(), (m, fix) => this.runtimeError(m, fix))
    const values = settingValues(config)
    const shown = args.key ? {[args.key]: values[args.key as SettingName]} : values
    if (!this.jsonEnabled()) this.log(args.key ? values[args.key as SettingName] : Object.entries(shown).map(([k, v]) => `${k}=${v}`).join('\n'))
    return shown
  }
}
