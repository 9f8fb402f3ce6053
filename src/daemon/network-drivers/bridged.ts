// `bridged` networking: a host bridge, a tap for the VM and NAT (host-network.ts), the hosts-file line for the
// VM's name. The VM has its own address on the bridge: the routing and DNS plugins build on it. Needs root
// (or CAP_NET_ADMIN) in this daemon for now.
import {DOCKER_TLS_PORT, GUEST_SSH_PORT} from '../../guest/ports.js'
import type {NetworkNames} from '../../network/names.js'
import type {Subnet} from '../../network/subnet.js'
import {guestNameservers} from '../guest-settings.js'
import {setUpHostNetwork, tearDownHostNetwork, type HostNetwork, type HostNetworkSpec} from '../host-network.js'
import {ProxyTransport} from '../ports/index.js'
import type {NetworkDriver, VmNetwork} from './driver.js'

export class BridgedNetworkDriver implements NetworkDriver {
  readonly mode = 'bridged' as const
  private network?: HostNetwork
  private readonly spec: HostNetworkSpec

  constructor(options: {names: NetworkNames; subnet: Subnet; hostname: string; hostsFile: string; openTap: (name: string) => number}) {
    this.spec = options
  }

  async setUp(): Promise<VmNetwork> {
    const {subnet, names} = this.spec
    this.network = await setUpHostNetwork(this.spec)
    return {
      mode: this.mode,
      qemu: {type: 'tap', fd: 3},
      inheritFds: [this.network.tapFd],
      guest: {address: subnet.vmIp, prefix: subnet.prefix, gateway: subnet.hostIp, dns: await guestNameservers(), hostAddress: subnet.hostIp},
      docker: {host: subnet.vmIp, port: DOCKER_TLS_PORT},
      ssh: {host: subnet.vmIp, port: GUEST_SSH_PORT},
      routableIp: subnet.vmIp,
      summary: `${names.bridge} ${subnet.hostIp}/${subnet.prefix}, ${subnet.vmIp} ${this.spec.hostname}`,
      portTransport: () => new ProxyTransport(subnet.vmIp),
    }
  }

  async tearDown(): Promise<void> {
    await tearDownHostNetwork(this.spec, this.network)
    this.network = undefined
  }
}
