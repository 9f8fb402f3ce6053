import {RoutingCommand} from '../../command-base.js'
import {enableRouting, type EnableOutcome} from '../../pipelines.js'
import {renderEnable} from '../../render.js'

export default class RoutingEnable extends RoutingCommand {
  static override summary = "Make container IPs reachable from this host: route every docker network via the VM"
  static override description = 'Persists the setting and, when the VM runs, routes the default bridge and every user-defined ' +
    "bridge network via the VM's address at once; new networks follow within seconds. Applied again on every `dlite start`. " +
    'A docker subnet that overlaps an existing host route is refused and nothing is changed.'
  static override examples = ['<%= config.bin %> routing enable', 'curl http://$(docker inspect -f "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}" web)/']

  async run(): Promise<EnableOutcome> {
    return this.perform(enableRouting, renderEnable)
  }
}
