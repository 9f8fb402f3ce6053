// `user` networking: QEMU's user-mode network stack (slirp). No privileges, nothing on the host but sockets
// QEMU binds on 127.0.0.1: dockerd's TLS port and sshd are forwarded from ports chosen free at each start,
// so homes never collide. The guest sees the host's loopback at HOST_ALIAS (what host.docker.internal
// resolves to) and slirp's resolver at DNS_ALIAS, which asks the host's own resolvers.
import {DOCKER_TLS_PORT, GUEST_SSH_PORT} from '../../guest/ports.js'
import {freeLoopbackPort, UserModeTransport} from '../ports/index.js'
import type {NetworkDriver, VmNetwork} from './driver.js'

export const USER_NET = '10.0.2.0/24'
export const USER_GUEST_IP = '10.0.2.15'
export const USER_HOST_ALIAS = '10.0.2.2'
export const USER_DNS_ALIAS = '10.0.2.3'

export class UserNetworkDriver implements NetworkDriver {
  readonly mode = 'user' as const

  async setUp(): Promise<VmNetwork> {
    const docker = {host: '127.0.0.1', port: await freeLoopbackPort('tcp')}
    // two probes in a row can be handed the same port; QEMU would refuse the second forward
    let sshPort = await freeLoopbackPort('tcp')
    while (sshPort === docker.port) sshPort = await freeLoopbackPort('tcp')
    const ssh = {host: '127.0.0.1', port: sshPort}
    return {
      mode: this.mode,
      qemu: {
        type: 'user', net: USER_NET, host: USER_HOST_ALIAS, dns: USER_DNS_ALIAS,
        hostfwd: [`tcp:127.0.0.1:${docker.port}-${USER_GUEST_IP}:${DOCKER_TLS_PORT}`, `tcp:127.0.0.1:${ssh.port}-${USER_GUEST_IP}:${GUEST_SSH_PORT}`],
      },
      inheritFds: [],
      guest: {address: USER_GUEST_IP, prefix: 24, gateway: USER_HOST_ALIAS, dns: [USER_DNS_ALIAS], hostAddress: USER_HOST_ALIAS},
      docker,
      ssh,
      summary: `user-mode (no root): docker TLS on 127.0.0.1:${docker.port}, ssh on 127.0.0.1:${ssh.port}`,
      portTransport: (hmp) => new UserModeTransport(hmp),
    }
  }

  async tearDown(): Promise<void> {
    // QEMU's forwards die with QEMU; nothing else was made on the host.
  }
}
