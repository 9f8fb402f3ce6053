// The host side of one VM's network as one unit: bridge, IP forwarding, NAT and the hosts-file line, then the
// VM's tap on the bridge. Root's work: the root helper does it for a user's VM, a root daemon for root's own.
// Teardown undoes exactly what setup did and is safe to run when setup never happened or only half happened.
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
}

export async function setUpHostNetwork(spec: HostNetworkSpec): Promise<void> {
  const backend = chooseNatBackend()
  await ensureBridge(spec.names.bridge, spec.subnet)
  try {
    await enableIpForwarding()
    await applyNat({table: spec.names.natTable, bridge: spec.names.bridge, subnet: spec.subnet}, backend)
    await addHostsEntry(spec.hostsFile, {ip: spec.subnet.vmIp, hostname: spec.hostname, homeId: spec.names.homeId})
  } catch (error) {
    await tearDownHostNetwork(spec).catch(() => {})
    throw error
  }
}

/**
 * Opens the VM's tap (a non-persistent one: it goes when QEMU, the last holder of its fd, exits) and puts it on
 * the bridge. The caller owns the fd.
 */
export async function openTapOnBridge(spec: HostNetworkSpec, openTap: (name: string) => number, closeFd: (fd: number) => void): Promise<number> {
  const fd = openTap(spec.names.tap)
  try {
    await attachTap(spec.names.tap, spec.names.bridge)
  } catch (error) {
    closeFd(fd)
    throw error
  }
  return fd
}

export async function tearDownHostNetwork(spec: HostNetworkSpec): Promise<void> {
  const problems: string[] = []
  const attempt = async (what: string, step: () => Promise<unknown>) => {
    try {
      await step()
    } catch (error) {
      problems.push(`${what}: ${(error as Error).message}`)
    }
  }
  await attempt('hosts entry', () => removeHostsEntry(spec.hostsFile, spec.names.homeId))
  let backend: NatBackend | undefined
  try {
    backend = chooseNatBackend()
  } catch {
    // no firewall tool: nothing of ours can be there
  }
  if (backend) {
    await attempt('NAT rules', () => removeNat({table: spec.names.natTable, bridge: spec.names.bridge, subnet: spec.subnet}, backend))
  }
  await attempt('tap', () => deleteLink(spec.names.tap))
  await attempt('bridge', () => deleteLink(spec.names.bridge))
  await attempt('IP forwarding', async () => restoreIpForwarding((await dliteBridges()).some((name) => name !== spec.names.bridge)))
  if (problems.length > 0) throw new Error(`could not fully clean up the host network: ${problems.join('; ')}`)
}
