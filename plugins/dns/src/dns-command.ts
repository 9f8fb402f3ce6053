// What the `dlite dns` commands share: the kit's command base (dlite's --json, exit codes, fixes and renderer
// choice), the dlite core that loaded the plugin, the VM the command acts on, and how the daemon is asked.
import {KitCommand} from 'dlite-kit/command'

import {dnsStateDir, loadDlite, type Dlite} from './dlite.js'
import type {DnsRequest} from './protocol.js'
import {PLUGIN_NAME, SettingsError, readSettings, type DnsSettings} from './settings.js'

export type VmContext = Awaited<ReturnType<Dlite['vmContext']>>

export abstract class DnsCommand extends KitCommand {
  /** A settings error from the user's flags is a usage error; one from the file on disk is a runtime error. */
  protected settingsError(error: unknown, fromFlags: boolean): never {
    if (!(error instanceof SettingsError)) throw error
    if (fromFlags) this.usageError(error.message, error.fix)
    this.runtimeError(error.message, error.fix)
  }

  protected async dlite(): Promise<Dlite> {
    return loadDlite(this.config)
  }

  /** The VM this command acts on; it must be installed. */
  protected async vm(dlite: Dlite): Promise<VmContext> {
    const context = await dlite.vmContext()
    if (!context.installed) this.runtimeError(`dlite is not installed in ${context.home}`, 'install it with `dlite install` (or set DLITE_HOME)')
    // *.docker names point at container IPs and the resolver at the bridge: both need a VM the host can route to
    if (context.network === 'user') {
      this.runtimeError(`dlite-dns needs a VM with its own address on this host, and the VM in ${context.home} uses user-mode networking (reached only through ports on 127.0.0.1)`, dlite.ROUTABLE_VM_FIX)
    }
    return context
  }

  protected stateDir(dlite: Dlite, context: VmContext): string {
    return dnsStateDir(dlite, context.home)
  }

  /** The saved settings, changed by `update`; a bad settings file is a runtime error. */
  protected savedSettings(dir: string, update: (saved: DnsSettings) => DnsSettings = (saved) => saved): DnsSettings {
    try {
      return update(readSettings(dir))
    } catch (error) {
      this.settingsError(error, false)
    }
  }

  protected ask<T>(dlite: Dlite, context: VmContext, request: DnsRequest): Promise<T> {
    return dlite.sendPluginRequest(context.home, PLUGIN_NAME, request) as Promise<T>
  }
}
