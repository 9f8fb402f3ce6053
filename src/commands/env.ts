import {Flags} from '@oclif/core'

import {DliteCommand} from '../base-command.js'
import {detectShell, shellEnv, SHELLS, type Shell} from '../docker/shell-env.js'
import {requireInstalled} from '../lifecycle/installed.js'
import {dliteHome} from '../paths.js'

export default class Env extends DliteCommand {
  static override summary = 'Print DOCKER_HOST for tools that ignore docker contexts, for your shell to eval'
  static override examples = ['eval "$(<%= config.bin %> env)"', '<%= config.bin %> env --shell fish | source', 'eval "$(<%= config.bin %> env --unset)"', '<%= config.bin %> env --json']
  static override flags = {
    shell: Flags.string({description: 'the syntax to print [default: from the SHELL variable]', options: [...SHELLS]}),
    unset: Flags.boolean({description: 'print what removes the variables instead', default: false}),
  }

  async run(): Promise<{DOCKER_HOST: string; shell: Shell}> {
    const {flags} = await this.parse(Env)
    const config = await requireInstalled(dliteHome(), (m, fix) => this.runtimeError(m, fix))
    const shell = (flags.shell as Shell | undefined) ?? detectShell(process.env.SHELL)
    const vars = {DOCKER_HOST: `unix://${config.dockerSocket}`}
    if (!this.jsonEnabled()) this.log(shellEnv(shell, vars, flags.unset))
    return {...vars, shell}
  }
}
