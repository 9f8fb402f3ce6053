import {DliteCommand} from '../base-command.js'
import {vmStatus} from '../lifecycle/vm-control.js'
import {dliteHome} from '../paths.js'

export default class Ip extends DliteCommand {
  static override summary = "Print the VM's IP address"
  static override examples = ['<%= config.bin %> ip', 'ssh docker@$(<%= config.bin %> ip)']

  async run(): Promise<{ip: string}> {
    await this.parse(Ip)
    const status = await vmStatus(dliteHome())
    if (status?.state !== 'running') this.runtimeError('dlite is not running', 'start it with `dlite start`')
    if (!this.jsonEnabled()) this.log(status.ip)
    return {ip: status.ip}
  }
}
