import {DliteCommand} from '../base-command.js'
import {listInstances, type Instance} from '../lifecycle/instances.js'
import {dliteHome} from '../paths.js'
import {renderInstances} from '../render/instances.js'

export default class List extends DliteCommand {
  static override summary = 'List every dlite instance (the default, each profile) with its state and resources'
  static override examples = ['<%= config.bin %> list', '<%= config.bin %> list --json']

  async run(): Promise<{instances: Instance[]}> {
    await this.parse(List)
    const instances = await listInstances(dliteHome())
    if (!this.jsonEnabled()) this.log(renderInstances(instances))
    return {instances}
  }
}
