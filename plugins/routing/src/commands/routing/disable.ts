import {RoutingCommand} from '../../command-base.js'
import {disableRouting, type DisableOutcome} from '../../pipelines.js'
import {renderDisable} from '../../render.js'

export default class RoutingDisable extends RoutingCommand {
  static override summary = 'Remove the routes to container IPs and the guest rule; routing stays off on later starts'
  static override description = 'Idempotent: disabling twice, or with the VM stopped, is not an error.'
  static override examples = ['<%= config.bin %> routing disable']

  async run(): Promise<DisableOutcome> {
    return this.perform(disableRouting, renderDisable)
  }
}
