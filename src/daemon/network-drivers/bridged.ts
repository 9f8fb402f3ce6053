// `bridged` networking: a host bridge, a tap for the VM, NAT and the hosts-file line for the VM's name. The VM
// has its own address on the bridge: the routing and DNS plugins build on it. All of that is root's work, asked
// of the home's host privileges (the root helper for a user's VM); this daemon, and the QEMU it runs, need none.
import {closeSync} from 'node:fs'

import {DOCKER_TLS_PORT, GUEST_SSH_PORT} from '../../guest/ports.js'
import type {HostPrivileges} from '../../helper/privileges.js'
import type {Subnet} from '../../network/subnet.js'
import {guestNameservers} from '../guest-settings.js'
import {ProxyTransport} from '../ports/index.js'
import type {NetworkDriver, VmNetwork} from './driver.js'

export class BridgedNetworkDriver implements NetworkDriver {
  readonly mode = 'bridged' as const
  private tapFd?: number

  constructor(private readonly options: {subnet: Subnet; privileges: HostPrivileges}) {}

  async setUp(): Promise<VmNetwork> {
    const {subnet, privileges} = this.options
    const link = await privileges.networkUp()
    try {
      // the daemon's config and the helper's registration must name the same network
      if (link.subnet !== subnet.cidr) throw new Error(`the root helper serves the network ${link.subnet}, but this home's config says ${subnet.cidr}; run \`sudo dlite network setup --subnet ${subnet.cidr}\`, or \`dlite config set\` it back`)
      this.tapFd = await privileges.openTap()
    } catch (error) {
      await privileges.networkDown().catch(() => {})
      throw error
    }
    return {
      mode: this.mode,
      qemu: {type: 'tap', fd: 3},
      inheritFds: [this.tapFd],
      guest: {address: subnet.vmIp, prefix: subnet.prefix, gateway: subnet.hostIp, dns: await guestNameservers(), hostAddress: subnet.hostIp},
      docker: {host: subnet.vmIp, port: DOCKER_TLS_PORT},
      ssh: {host: subnet.vmIp, port: GUEST_SSH_PORT},
      routableIp: subnet.vmIp,
      summary: `${link.bridge} ${subnet.hostIp}/${subnet.prefix}, ${subnet.vmIp} ${link.hostname}`,
      portTransport: () => new ProxyTransport(subnet.vmIp),
    }
  }

  async tearDown(): Promise<void> {
    if (this.tapFd !== undefined) {
      try {
        closeSync(this.tapFd)
      } catch {
        // already closed
      }
      this.tapFd = undefined
    }
    await this.options.privileges.networkDown()
  }
}
