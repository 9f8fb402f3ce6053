import {DliteCommand} from '../base-command.js'
import {gatherVersions, renderVersions, type Versions} from '../lifecycle/versions.js'
import {dliteHome} from '../paths.js'

export default class Version extends DliteCommand {
  static override summary = 'Print the versions of dlite, its plugins, the OS image, QEMU and the accelerator a start would use'
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version --json']

  async run(): Promise<Versions> {
    await this.parse(Version)
    const plugins = [...this.config.plugins.values()]
      .filter((p) => p.name !== this.config.name)
      .map((p) => ({name: p.name, version: p.version, type: p.type}))
    const versions = await gatherVersions(dliteHome(), {version: this.config.version, plugins})
    if (!this.jsonEnabled()) this.log(renderVersions(versions))
    return versions
  }
}
