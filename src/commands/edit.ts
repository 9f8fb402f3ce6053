import {DliteCommand} from '../base-command.js'
import {invokingUser} from '../host/invoking-user.js'
import {formatValidationErrors, gatherInstallHostFacts} from '../install/validate.js'
import {describeChange, needsRestart, planConfigChange, writeConfigChange} from '../lifecycle/config-change.js'
import {chosenEditor, editText, parseSettingsText, settingsText} from '../lifecycle/config-edit.js'
import {requireInstalled} from '../lifecycle/installed.js'
import {vmStatus} from '../lifecycle/vm-status.js'
import {dliteHome} from '../paths.js'

export default class Edit extends DliteCommand {
  static override summary = 'Edit the settings in your editor (VISUAL or EDITOR); checked as dlite config set checks them'
  static override examples = ['<%= config.bin %> edit', 'EDITOR="code --wait" <%= config.bin %> edit']

  async run(): Promise<{changed: Array<{name: string; from: string; to: string}>; restartNeeded: boolean}> {
    await this.parse(Edit)
    const home = dliteHome()
    const config = await requireInstalled(home, (m, fix) => this.runtimeError(m, fix))
    const editor = chosenEditor()
    if (!editor) this.usageError('no editor: neither VISUAL nor EDITOR is set', 'set EDITOR (e.g. EDITOR=nano dlite edit), or use `dlite config set KEY=VALUE`')
    const edited = editText(editor, settingsText(config, home))
    if (edited.exitCode !== 0) this.runtimeError(`the editor (${editor}) exited with ${edited.exitCode}; nothing was changed`)
    const facts = await gatherInstallHostFacts({homeDir: invokingUser().home, dliteHome: home})
    const plan = planConfigChange(parseSettingsText(edited.text), config, facts)
    if (!plan.ok) this.usageError(`invalid settings, nothing was changed:\n${formatValidationErrors(plan.errors)}`, 'run `dlite edit` again')
    writeConfigChange(home, plan.change)
    const restartNeeded = (await vmStatus(home)) !== undefined && needsRestart(plan.change)
    if (!this.jsonEnabled()) {
      this.log(describeChange(plan.change))
      if (restartNeeded) this.log('The VM is running: the change takes effect at its next start (`dlite restart`).')
    }
    return {changed: plan.change.changed, restartNeeded}
  }
}
