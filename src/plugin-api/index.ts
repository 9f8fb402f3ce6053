// The documented surface between the dlite core and its plugins (`import … from 'dlite/plugin'`).
// Plugins receive lifecycle events as oclif hooks fired inside the dlite daemon, and reach the VM's docker
// engine through the client below. Nothing else of the core is part of the contract.
import {DockerClient, type DockerEndpoint} from '../docker/client.js'

export {DockerClient}
export type {DockerEndpoint, DockerEvent, DockerResponse} from '../docker/client.js'

/** oclif hook event names. Declare handlers in a plugin's package.json under `oclif.hooks`. */
export const HOOKS = {
  /** The VM booted and docker answers. Payload: VmReadyEvent. */
  vmReady: 'dlite:vm-ready',
  /** The VM is about to stop (docker still answers). Payload: VmLifecycleEvent. */
  vmStopping: 'dlite:vm-stopping',
  /** The VM has stopped and the host network is torn down. Payload: VmLifecycleEvent. */
  vmStopped: 'dlite:vm-stopped',
} as const

export interface VmLifecycleEvent {
  /** The DLITE_HOME of the VM; a plugin keeps its own state under `${home}/plugins/<name>`. */
  home: string
  /** The VM's IPv4 address on the host bridge. */
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

/** A client for the VM's docker engine from a ready event. */
export function dockerClientFor(event: VmReadyEvent): DockerClient {
  return new DockerClient(event.docker)
}
