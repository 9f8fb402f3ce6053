// User-mode (slirp) networking for both loopbacks. 127.0.0.1 is a plain slirp host forward. [::1] is a
// proxy to a slirp forward of its own on an ephemeral 127.0.0.1 port: never to 127.0.0.1:hostPort, which
// may be an unrelated host process's (the 127.0.0.1 forward can fail while the [::1] one succeeds).
import type {PortProto} from './bindings.js'
import {describeForward, freeLoopbackPort} from './loopback.js'
import {ProxyTransport, type ProxyTransportOptions} from './proxy-transport.js'
import {SlirpTransport, type HmpCommand} from './slirp-transport.js'
import type {ForwardHandle, ForwardSpec, ForwardTransport} from './transports.js'

export interface UserModeTransportOptions {
  /** The user-mode netdev's id on the QEMU command line. */
  netdev?: string
  proxy?: ProxyTransportOptions
  /** Ephemeral ports to try for a [::1] relay: another process may take a free port before QEMU binds it. */
  relayAttempts?: number
}

export class UserModeTransport implements ForwardTransport {
  private readonly slirp: SlirpTransport

  constructor(hmp: HmpCommand, private readonly options: UserModeTransportOptions = {}) {
    this.slirp = new SlirpTransport(hmp, {netdev: options.netdev})
  }

  async open(spec: ForwardSpec): Promise<ForwardHandle> {
    if (spec.listenAddress === '127.0.0.1') return this.slirp.open(spec)
    const relay = await this.openRelay(spec.proto, spec.hostPort)
    let proxy: ForwardHandle
    try {
      proxy = await new ProxyTransport('127.0.0.1', () => relay.port, this.options.proxy).open(spec)
    } catch (error) {
      await relay.handle.close().catch(() => {})
      throw error
    }
    return {
      async close() {
        // Both must go even if one fails; the first failure is still reported.
        const results = await Promise.allSettled([proxy.close(), relay.handle.close()])
        const failure = results.find((result) => result.status === 'rejected')
        if (failure) throw (failure as PromiseRejectedResult).reason
      },
    }
  }

  /** A slirp forward from a free 127.0.0.1 port to guestPort: the [::1] proxy's way into the guest. */
  private async openRelay(proto: PortProto, guestPort: number): Promise<{port: number; handle: ForwardHandle}> {
    const attempts = Math.max(1, this.options.relayAttempts ?? 3)
    let lastError: unknown
    for (let attempt = 0; attempt < attempts; attempt++) {
      const port = await freeLoopbackPort(proto)
      try {
        return {port, handle: await this.slirp.forward(proto, port, guestPort)}
      } catch (error) {
        lastError = error
      }
    }
    const reason = lastError instanceof Error ? lastError.message : String(lastError)
    throw new Error(`${describeForward(proto, '::1', guestPort)} has no relay into the VM: ${reason}`)
  }
}
