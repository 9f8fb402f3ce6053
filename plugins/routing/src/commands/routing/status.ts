import {RoutingCommand} from '../../command-base.js'
import {routingStatus, type StatusOutcome} from '../../pipelines.js'
import {renderStatus} from '../../render.js'

export default class RoutingStatus extends RoutingCommand {
  static override summary = 'Show whether routing is on, the routes via the VM, and whether a container answers at its IP'
  static override description = 'The live check opens a TCP connection to one running container per routed network (its ' +
    'first declared port, else 80); an accepted or a refused connection both mean the container answered.'
  static override examples = ['<%= config.bin %> routing status', '<%= config.bin %> routing status --json']

  async run(): Promise<StatusOutcome> {
    return this.perform(routingStatus, renderStatus)
  }
}
