import {DliteCommand} from '../base-command.js'
import {diagnose, type DoctorReport} from '../doctor/checks.js'
import {gatherHostFacts} from '../doctor/host-facts.js'
import {dliteHome} from '../paths.js'
import {renderDoctorReport} from '../render/doctor.js'

export default class Doctor extends DliteCommand {
  static override summary = 'Check that this host has everything dlite start needs'
  static override description =
    'Checks QEMU, the accelerator start would use (and why), virtiofsd, tap and bridge permissions, NAT tools, ' +
    'the ssh client, free space under DLITE_HOME, the docker CLI, and whether a running VM\'s docker answers through ' +
    'the host socket. Exits 1 when something required on the host is missing.'
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json']

  async run(): Promise<DoctorReport> {
    await this.parse(Doctor)
    const report = diagnose(await gatherHostFacts(dliteHome()))
    if (!this.jsonEnabled()) this.log(renderDoctorReport(report))
    if (!report.ok) process.exitCode = 1
    return report
  }
}
