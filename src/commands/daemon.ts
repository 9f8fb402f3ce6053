import {Flags} from '@oclif/core'
import {daemonLogger} from 'dlite-kit/daemon-log'

import {DliteCommand, MAX_TIMEOUT_SECONDS} from '../base-command.js'
import {VmDaemon} from '../daemon/vm-daemon.js'

export default class Daemon extends DliteCommand {
  static override hidden = true
  static override summary = 'Run the VM daemon in the foreground (started by dlite start or a service manager)'
  static override flags = {
    'boot-timeout': Flags.integer({description: 'seconds to wait for docker in the guest', default: 300, min: 10, max: MAX_TIMEOUT_SECONDS}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Daemon)
    const log = daemonLogger()
    const daemon = await VmDaemon.open({
      bootTimeoutS: flags['boot-timeout'],
      log,
      // Plugins act on the VM's lifecycle through oclif hooks fired here, inside the daemon.
      fireHook: async (event, payload) => {
        const result = await this.config.runHook(event as never, payload as never)
        for (const failure of result.failures) {
          log(`plugin ${failure.plugin.name} failed on ${event}: ${failure.error.message}`)
        }
        return [
          ...result.successes.filter((s) => s.result !== undefined).map((s) => ({plugin: s.plugin.name, result: s.result})),
          ...result.failures.map((f) => ({plugin: f.plugin.name, error: f.error.message})),
        ]
      },
    })
    await daemon.run()
    // Everything is cleaned up by now; a lingering handle (a helper's pipe, a plugin's server) must not keep
    // a stopped daemon alive.
    process.exit(0)
  }
}
