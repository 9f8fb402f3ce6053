import {DliteCommand} from '../base-command.js'
import {vmStatus} from '../lifecycle/vm-status.js'
import {dliteHome} from '../paths.js'

export default class Ip extends DliteCommand {
  static override summary = "Print the VM's IP address: where its published ports answer"
  static override description = 'Bridged: the VM\'s own address on the host bridge. User-mode networking: 127.0.0.1, where ' +
    'published container ports are forwarded (the VM has no address of its own on the host).'
  static override examples = ['<%= config.bin %> ip', 'curl http://$(<%= config.bin %> ip):8080/']

  async run(): Promise<{ip: string; network: 'user' | 'bridged'}> {
    await this.parse(Ip)
    const status = await vmStatus(dliteHome())
    if (status?.state !== 'running') this.runtimeError('dlite is not running', 'start it with `dlite start`')
    if (!this.jsonEnabled()) this.log(status.ip)
    return {ip: status.ip, network: status.network}
  }
}
