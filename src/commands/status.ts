import {DliteCommand} from '../base-command.js'
import {statusReport, type StatusReport} from '../lifecycle/status-report.js'
import {dliteHome} from '../paths.js'

export default class Status extends DliteCommand {
  static override summary = 'Show whether the VM runs, how, and with what resources'
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json']

  async run(): Promise<StatusReport> {
    await this.parse(Status)
    const report = await statusReport(dliteHome())
    // the text rendering, imported only for it: `status --json` is what scripts call, often
    if (!this.jsonEnabled()) this.log((await import('../render/status.js')).renderStatus(report))
    return report
  }
}
