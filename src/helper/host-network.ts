// The host side of one VM's network as one unit: bridge, tap (opened through the native addon so the
// daemon holds its fd for QEMU), NAT, and the hosts-file line. Teardown undoes exactly what setup did
// and is safe to run when setup never happened or only half happened.
import {closeSync} from 'node:fs'

import {attachTap, deleteLink, dliteBridges, ensureBridge} from '../network/bridge.js'
import {addHostsEntry, removeHostsEntry} from '../network/hosts-file.js'
import type {NetworkNames} from '../network/names.js'
import {applyNat, chooseNatBackend, enableIpForwarding, removeNat, restoreIpForwarding, type NatBackend} from '../network/nat.js'
import type {Subnet} from '../network/subnet.js'

export interface HostNetworkSpec {
  names: NetworkNames
  subnet: Subnet
  hostname: string
  hostsFile: string
  openTap: (name: string) => number
}

export interface HostNetwork {
  tapFd: number
  backend: NatBackend
}

export async function setUpHostNetwork(spec: HostNetworkSpec): Promise<HostNetwork> {
  const backend = chooseNatBackend()
  await ensureBridge(spec.names.bridge, spec.subnet)
  const tapFd = spec.openTap(spec.names.tap)
  try {
    await attachTap(spec.names.tap, spec.names.bridge)
    await enableIpForwarding()
    await applyNat({table: spec.names.natTable, bridge: spec.names.bridge, subnet: spec.subnet}, backend)
    await addHostsEntry(spec.hostsFile, {ip: spec.subnet.vmIp, hostname: spec.hostname, homeId: spec.names.homeId})
  } catch (error) {
    closeSync(tapFd)
    await tearDownHostNetwork(spec)
    throw error
  }
  return {tapFd, backend}
}

export async function tearDownHostNetwork(spec: HostNetworkSpec, network?: HostNetwork): Promise<void> {
  const problems: string[] = []
  const attempt = async (what: string, step: () => Promise<unknown>) => {
    try {
      await step()
    } catch (error) {
      problems.push(`${what}: ${(error as Error).message}`)
    }
  }
  await attempt('hosts entry', () => removeHostsEntry(spec.hostsFile, spec.names.homeId))
  let backend: NatBackend | undefined = network?.backend
  try {
    backend ??= chooseNatBackend()
  } catch {
    // no firewall tool: nothing of ours can be there
  }
  if (backend) {
    await attempt('NAT rules', () => removeNat({table: spec.names.natTable, bridge: spec.names.bridge, subnet: spec.subnet}, backend))
  }
  if (network) {
    try {
      closeSync(network.tapFd)
    } catch {
      // already closed
    }
  }
  await attempt('tap', () => deleteLink(spec.names.tap))
  await attempt('bridge', () => deleteLink(spec.names.bridge))
  await attempt('IP forwarding', async () => restoreIpForwarding((await dliteBridges()).some((name) => name !== spec.names.bridge)))
  if (problems.length > 0) throw new Error(`could not fully clean up the host network: ${problems.join('; ')}`)
}
