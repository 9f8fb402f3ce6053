// `bridged` on macOS: vmnet.framework through socket_vmnet, the way Lima and Colima give a QEMU VM a routable address.
// socket_vmnet (root, a LaunchDaemon) owns the vmnet interface, its NAT and its DHCP server; QEMU, running as the
// user, connects to its unix socket. vmnet's bridge passes only addresses its DHCP handed out, so the guest asks DHCP
// (settings IP=dhcp) and reports the lease (DLITE-READY address); the host then reaches docker and sshd there, and
// the root helper names it in /etc/hosts. The VM's MAC is the home's own, so the lease is the same at every start.
//
// QEMU connects by itself (`-netdev stream,server=off,addr.type=unix`, QEMU >= 7.2; Homebrew ships newer, and Lima's
// QEMU driver does the same where QEMU has it) rather than inheriting a socket this daemon connected
// (`-netdev socket,fd=3`, socket_vmnet_client's way): each QEMU launch, the first and every restart the supervisor
// makes with the same argv, then has a connection of its own, and no descriptor of the daemon's ever shares
// socket_vmnet's length-prefixed frame stream with a QEMU that is dying.
import {DOCKER_TLS_PORT, GUEST_SSH_PORT} from '../../guest/ports.js'
import {DHCP_ADDRESS} from '../../guest/settings.js'
import type {HostPrivileges} from '../../helper/privileges.js'
import type {Subnet} from '../../network/subnet.js'
import {socketVmnetNotReady, vmnetGuestAddress, vmnetMac, type SocketVmnetFacts} from '../../network/vmnet.js'
import type {GuestMarker} from '../../vm/marker-watch.js'
import {ProxyTransport} from '../ports/index.js'
import type {NetworkDriver, VmNetwork} from './driver.js'

export interface VmnetDriverOptions {
  subnet: Subnet
  /** The config's hostname: dockerd's certificate names it (and the VM's install-time address, not its lease). */
  hostname: string
  homeId: string
  privileges: HostPrivileges
  /** socket_vmnet as it is now (host/socket-vmnet.ts), asked at each setUp; and Homebrew's prefix, for the fixes. */
  probe: () => SocketVmnetFacts
  homebrewPrefix: string
  /** How long after `learnt()` is asked the guest may take to report its lease; default 60 s. */
  addressTimeoutMs?: number
  /** The user's own part of a new address, after the helper's: ssh's pinned host key is looked up by it (known_hosts). */
  onAddress?: (ip: string) => Promise<void>
  log?: (line: string) => void
}

export class VmnetNetworkDriver implements NetworkDriver {
  readonly mode = 'bridged' as const
  private network?: VmNetwork
  private address?: string
  private failure?: Error
  private waiters: Array<{resolve: (ip: string) => void; reject: (error: Error) => void}> = []
  /** The host's part for the address last reported, in order: a second report waits for the first's. */
  private following: Promise<void> = Promise.resolve()

  constructor(private readonly options: VmnetDriverOptions) {}

  async setUp(): Promise<VmNetwork> {
    const {subnet, privileges, hostname} = this.options
    const socketVmnet = this.options.probe()
    const problem = socketVmnetNotReady(socketVmnet, this.options.homebrewPrefix)
    if (problem) throw new Error(`${problem.message}. Fix: ${problem.fix}`)
    // the helper must be there before QEMU boots: the hosts line is its work once the address is known
    const link = await privileges.networkUp()
    if (link.subnet !== subnet.cidr) throw new Error(`the root helper serves the network ${link.subnet}, but this home's config says ${subnet.cidr}; run \`sudo dlite network setup --subnet ${subnet.cidr}\`, or \`dlite config set\` it back`)
    this.address = undefined
    this.failure = undefined
    const mac = vmnetMac(this.options.homeId)
    this.network = {
      mode: this.mode,
      qemu: {type: 'stream', path: socketVmnet.socket, mac},
      inheritFds: [],
      // no DNS of the host's: vmnet's DHCP names its own resolver, which follows the Mac's as networks change
      guest: {address: DHCP_ADDRESS, prefix: subnet.prefix, hostAddress: subnet.hostIp, mac},
      // until the guest reports its lease: the network's first address, where vmnet's DHCP starts
      docker: {host: subnet.vmIp, port: DOCKER_TLS_PORT, servername: hostname},
      ssh: {host: subnet.vmIp, port: GUEST_SSH_PORT},
      summary: `vmnet through socket_vmnet (${socketVmnet.socket}), ${subnet.cidr}, the VM's address from vmnet's DHCP (MAC ${mac})`,
      portTransport: () => new ProxyTransport(this.address ?? subnet.vmIp),
      learnsAddress: {onMarker: (marker) => this.onMarker(marker), learnt: () => this.learnt()},
    }
    return this.network
  }

  private onMarker(marker: GuestMarker): void {
    if (marker.kind !== 'READY') return
    let ip: string | undefined
    try {
      ip = vmnetGuestAddress(marker.text, this.options.subnet)
    } catch (error) {
      this.settle(undefined, error as Error)
      return
    }
    if (ip === undefined || ip === this.address) return
    const network = this.network
    if (!network) return
    this.options.log?.(`vmnet: the VM's address is ${ip} (vmnet's DHCP)`)
    this.address = ip
    network.docker.host = ip
    network.ssh.host = ip
    network.routableIp = ip
    const follow = this.following.then(async () => {
      await this.options.privileges.setVmAddress(ip)
      await this.options.onAddress?.(ip)
    })
    this.following = follow.catch(() => {})
    follow.then(() => this.settle(ip), (error: Error) => this.settle(undefined, new Error(`the host could not follow the VM's address ${ip}: ${error.message}`)))
  }

  private settle(ip: string | undefined, error?: Error): void {
    if (error) this.failure = error
    const waiters = this.waiters
    this.waiters = []
    for (const waiter of waiters) {
      if (error) waiter.reject(error)
      else waiter.resolve(ip!)
    }
  }

  private learnt(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure)
    const timeoutMs = this.options.addressTimeoutMs ?? 60_000
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.resolve !== done)
        reject(new Error(`the guest did not report an address from vmnet's DHCP within ${timeoutMs / 1000} s (see \`dlite logs --console\`); `
          + 'an OS image from before dlite learnt vmnet addresses cannot: `dlite update --os <a newer image>`'))
      }, timeoutMs)
      const done = (ip: string) => {
        clearTimeout(timer)
        resolve(ip)
      }
      this.waiters.push({resolve: done, reject: (error) => {
        clearTimeout(timer)
        reject(error)
      }})
      // reported already, and the host followed: nothing to wait for
      if (this.address) void this.following.then(() => {
        if (!this.failure && this.address) this.settle(this.address)
      })
    })
  }

  async tearDown(): Promise<void> {
    this.network = undefined
    this.address = undefined
    await this.options.privileges.networkDown()
  }
}
