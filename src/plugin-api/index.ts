// The documented surface between the dlite core and its plugins (`import type … from 'dlite-cli/plugin'`, and at
// run time `loadDlite(this.config)`, see docs/PLUGINS.md). Plugins receive lifecycle events as oclif hooks
// fired inside the dlite daemon, reach the VM's docker engine through the client below, run commands in the
// guest with guestExec, and reach their own daemon-side code from commands with sendPluginRequest. Nothing
// else of the core is part of the contract.
import {DockerClient, type DockerEndpoint} from '../docker/client.js'

export {DockerClient}
export type {DockerEndpoint, DockerEvent, DockerResponse} from '../docker/client.js'
export {guestExec, type GuestExecOptions, type GuestExecResult} from './guest-exec.js'
export {pluginStateDir, sendPluginRequest, vmContext, type VmContext} from './vm-context.js'
export {hostPrivilegesForHome as hostPrivileges} from '../helper/for-home.js'
export type {BridgeLink, HostPrivileges} from '../helper/privileges.js'
export {endsInReservedSuffix, publicNamesAllowed, reservedNameFix, RESERVED_SUFFIXES} from '../network/reserved-names.js'

/** oclif hook event names. Declare handlers in a plugin's package.json under `oclif.hooks`. */
export const HOOKS = {
  /** Before each boot, in the daemon. Payload: VmLifecycleEvent. A handler may return a GuestConfig. */
  guestConfig: 'dlite:guest-config',
  /** The VM booted and docker answers. Payload: VmReadyEvent. */
  vmReady: 'dlite:vm-ready',
  /** The VM is about to stop (docker still answers). Payload: VmLifecycleEvent. */
  vmStopping: 'dlite:vm-stopping',
  /** The VM has stopped and the host network is torn down. Payload: VmLifecycleEvent. */
  vmStopped: 'dlite:vm-stopped',
  /**
   * A plugin command asked the daemon for something (sendPluginRequest). Payload: PluginRequestEvent. Only
   * the handler of the named plugin answers, with a JSON-serialisable result; others return undefined.
   */
  pluginRequest: 'dlite:plugin-request',
} as const

/** How the VM is networked; only a `bridged` VM has an address of its own that the host can route to. */
export type VmNetworkMode = 'user' | 'bridged'

export interface VmLifecycleEvent {
  /** The DLITE_HOME of the VM; a plugin keeps its own state under pluginStateDir(home, name). */
  home: string
  /**
   * `bridged`: the VM has its own address on a host bridge (ip, subnet, hostIp, bridge below). `user`: QEMU's
   * user-mode networking; the VM is reached only through ports forwarded on 127.0.0.1 (ip is 127.0.0.1, and
   * subnet, hostIp and bridge describe a bridge that does not exist). A plugin that needs a routable VM says
   * so with ROUTABLE_VM_FIX.
   */
  network: VmNetworkMode
  /** The VM's IPv4 address on the host bridge (bridged), or 127.0.0.1 (user). */
  ip: string
  hostname: string
  /** The VM network, CIDR. */
  subnet: string
  /** The host's address on that network (the bridge). */
  hostIp: string
  /** The host bridge interface (Linux) the VM is reached through. */
  bridge: string
}

export interface VmReadyEvent extends VmLifecycleEvent {
  /** Where the VM's docker engine answers; pass to `new DockerClient(docker)`. */
  docker: DockerEndpoint
}

export interface PluginRequestEvent extends VmReadyEvent {
  /** The package name of the plugin the request is for. */
  plugin: string
  /** Whatever the plugin's command sent (JSON). */
  request: unknown
}

/** The fix a plugin names when it needs a routable VM and the VM uses user-mode networking. */
export const ROUTABLE_VM_FIX = 'give the VM a routable network: `sudo dlite network setup` once, then `dlite config set network=bridged --restart` (the disk and containers are kept)'

/** What a `dlite:guest-config` handler may add to the guest's settings for the coming boot. */
export interface GuestConfig {
  /** Appended to dockerd's arguments (after the user's own `--extra`). */
  dockerArgs?: string[]
}

/** A client for the VM's docker engine from a ready event. */
export function dockerClientFor(event: VmReadyEvent): DockerClient {
  return new DockerClient(event.docker)
}
