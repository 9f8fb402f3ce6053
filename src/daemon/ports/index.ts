// Published container ports on the host's loopbacks: see port-forwarder.ts for how the pieces fit.
export {bindingsOf, forwardKey, formatHostPort, loopbacksFor, type ContainerInspect, type LoopbackAddress, type PortBinding, type PortProto} from './bindings.js'
export {
  ProxyTransport,
  SlirpTransport,
  UserModeTransport,
  freeLoopbackPort,
  hmpOverQmp,
  hostHasIpv6Loopback,
  type ForwardHandle,
  type ForwardSpec,
  type ForwardTransport,
  type HmpCommand,
  type ProxyTransportOptions,
  type SlirpTransportOptions,
  type UserModeTransportOptions,
} from './transports.js'
export {PortForwarder, type FailedPort, type ForwardedPort, type PortForwardStatus, type PortForwarderOptions} from './port-forwarder.js'
