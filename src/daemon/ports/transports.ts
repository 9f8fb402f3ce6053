// How a host loopback listener reaches the VM. The forwarder only opens and closes forwards; a transport
// decides what a forward is: a userspace proxy to the VM's IP (bridged networking) or a QEMU user-mode
// (slirp) host forward added at runtime, with a small proxy for [::1] because QEMU's hostfwd is IPv4-only.
import type {LoopbackAddress, PortProto} from './bindings.js'

export interface ForwardSpec {
  proto: PortProto
  listenAddress: LoopbackAddress
  hostPort: number
}

export interface ForwardHandle {
  /** Stops listening and ends live connections; resolves once the host port is free again. */
  close(): Promise<void>
}

export interface ForwardTransport {
  /** Resolves once the host listener is up; rejects with a readable reason (e.g. "... is in use on the host"). */
  open(spec: ForwardSpec): Promise<ForwardHandle>
}

export {ProxyTransport, type ProxyTransportOptions} from './proxy-transport.js'
export {SlirpTransport, hmpOverQmp, type HmpCommand, type SlirpTransportOptions} from './slirp-transport.js'
export {UserModeTransport, type UserModeTransportOptions} from './user-mode-transport.js'
export {freeLoopbackPort, hostHasIpv6Loopback} from './loopback.js'
