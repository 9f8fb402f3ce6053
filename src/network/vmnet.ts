// A routable VM on macOS: vmnet.framework through socket_vmnet (lima-vm/socket_vmnet), the root daemon that owns the
// vmnet interface and lets QEMU, running as the user, connect to its unix socket. These are its facts as data, pure,
// so every rule is unit-tested on any host.
import {cidrContains, formatIpv4, parseIpv4, prefixMask, requireCidr} from 'dlite-kit/ipv4'

import {startSocketVmnet} from '../doctor/macos.js'
import type {Subnet} from './subnet.js'

/**
 * socket_vmnet's network as its LaunchDaemon starts it (`--vmnet-gateway=192.168.105.1`, the "Default
 * configuration" of its README for Homebrew, MacPorts and its own plist): the Mac is .1, vmnet's DHCP hands out the
 * rest of the /24. A socket_vmnet started with another gateway needs `--subnet` to say so.
 */
export const VMNET_DEFAULT_SUBNET = '192.168.105.0/24'

/**
 * The VM's MAC on vmnet, from the home id: one socket_vmnet serves every VM on the Mac (Lima's too), and its README
 * asks for a unique MAC per VM ("Multi VM"). QEMU's default (52:54:00:12:34:56) would be the same for all of them.
 * 02: a locally administered unicast address; 64:6c is "dl". The home id is the same 3 bytes every start, so vmnet's
 * DHCP (bootpd, keyed by the MAC) hands the VM the same address again.
 */
export function vmnetMac(homeId: string): string {
  if (!/^[0-9a-f]{6}$/.test(homeId)) throw new Error(`not a dlite home id: ${JSON.stringify(homeId)}`)
  return `02:64:6c:${homeId.slice(0, 2)}:${homeId.slice(2, 4)}:${homeId.slice(4, 6)}`
}

/** socket_vmnet on this Mac: its binary (`brew install socket_vmnet`) and the socket its LaunchDaemon listens on. */
export interface SocketVmnetFacts {
  binary: string
  binaryExists: boolean
  socket: string
  socketExists: boolean
}

export interface Problem {
  message: string
  fix: string
}

/** Why a bridged VM cannot be made on this Mac (socket_vmnet not installed), or undefined when it can. */
export function socketVmnetMissing(facts: SocketVmnetFacts, prefix: string): Problem | undefined {
  if (facts.binaryExists) return undefined
  return {
    message: `a bridged (routable) VM on macOS connects to vmnet through socket_vmnet, and ${facts.binary} is not there`,
    fix: `brew install socket_vmnet, then start it as root once: ${startSocketVmnet(prefix)}; or use network=user, the default (docker, ssh and published ports on 127.0.0.1)`,
  }
}

/** Why QEMU cannot connect to vmnet now (socket_vmnet not installed or not running), or undefined when it can. */
export function socketVmnetNotReady(facts: SocketVmnetFacts, prefix: string): Problem | undefined {
  const missing = socketVmnetMissing(facts, prefix)
  if (missing) return missing
  if (facts.socketExists) return undefined
  return {message: `socket_vmnet is installed but not running: no socket at ${facts.socket}`, fix: `start it as root once (it comes back at every boot): ${startSocketVmnet(prefix)}`}
}

/**
 * The address the guest reported from vmnet's DHCP (`DLITE-READY address A.B.C.D/N`), checked against the network
 * dlite was told socket_vmnet serves: the Mac's address there (.1) is where host.docker.internal, the DNS plugin's
 * resolver and the routing plugin's bridge are found. Returns the address (undefined for any other marker), or throws
 * naming the fix.
 */
export function vmnetGuestAddress(markerText: string, subnet: Subnet): string | undefined {
  const match = /^address (\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(markerText)
  if (!match) return undefined
  const [, ip, prefix] = match
  const address = parseIpv4(ip)
  if (address === undefined) return undefined
  const network = requireCidr(subnet.cidr)
  const broadcast = formatIpv4((network.network | ~prefixMask(network.prefix)) >>> 0)
  if (!cidrContains(network, address) || Number(prefix) !== subnet.prefix || [subnet.network, subnet.hostIp, broadcast].includes(ip)) {
    throw new Error(`the VM got ${ip}/${prefix} from vmnet's DHCP, outside ${subnet.cidr} that this home says socket_vmnet serves: `
      + 'socket_vmnet was started with another --vmnet-gateway. Give that network: `sudo dlite network setup --subnet <its network>`, then `dlite config set subnet=<its network>`')
  }
  return ip
}
