import {Flags} from '@oclif/core'

import {DliteCommand} from '../base-command.js'
import {diagnose, type DoctorReport, type HostFacts} from '../doctor/checks.js'
import {readFactsFile} from '../doctor/facts-file.js'
import {gatherHostFacts} from '../doctor/host-facts.js'
import {dliteHome} from '../paths.js'
import {renderDoctorReport} from '../render/doctor.js'

export default class Doctor extends DliteCommand {
  static override summary = 'Check that this host has everything dlite start needs'
  static override description =
    'Checks QEMU, the accelerator start would use (and why), virtiofsd, tap and bridge permissions, NAT tools, ' +
    'socket_vmnet (a bridged VM on macOS), the ssh client, free space under DLITE_HOME, the docker CLI, and whether ' +
    'a running VM\'s docker answers through the host socket. Exits 1 when something required on the host is missing. ' +
    'With --json the report holds the facts it judged; save them and --facts judges them again, on any host.'
  static override examples = [
    '<%= config.bin %> doctor',
    '<%= config.bin %> doctor --json',
    '<%= config.bin %> doctor --json > report.json && <%= config.bin %> doctor --facts report.json',
  ]
  static override flags = {
    facts: Flags.string({
      description: 'judge the host facts in this file (dlite doctor --json output, or its facts member) instead of probing this host',
    }),
  }

  async run(): Promise<DoctorReport> {
    const {flags} = await this.parse(Doctor)
    const facts = flags.facts === undefined ? await gatherHostFacts(dliteHome()) : this.readFacts(flags.facts)
    const report = diagnose(facts)
    if (!this.jsonEnabled()) {
      if (flags.facts !== undefined) this.log(`Judging the facts in ${flags.facts}, recorded on ${facts.platform}, not this host.\n`)
      this.log(renderDoctorReport(report))
    }
    if (!report.ok) process.exitCode = 1
    return report
  }

  // a file that is not host facts is a usage error (exit 2) that lists what is wrong
  private readFacts(file: string): HostFacts {
    try {
      return readFactsFile(file)
    } catch (error) {
      this.fail(error)
    }
  }
}
