import {GUEST_CONTRACT_VALUES} from './contract.js'

// Ports the guest serves, as the host must know them (os/rootfs/usr/lib/dlite/rc.boot starts the services).
/** dockerd's TLS listener (client certificates required). */
export const DOCKER_TLS_PORT = GUEST_CONTRACT_VALUES.dockerTlsPort
/** sshd (keys only). */
export const GUEST_SSH_PORT = 22
