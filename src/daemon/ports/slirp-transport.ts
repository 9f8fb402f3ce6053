// QEMU user-mode networking (slirp) host forwards, added and removed at runtime through the HMP commands
// hostfwd_add / hostfwd_remove: QEMU itself listens on the host port and carries the traffic into the guest.
// QEMU 7.2's hostfwd binds IPv4 only, so this serves 127.0.0.1; [::1] needs another transport.
import type {QmpClient} from '../../hypervisor/qmp.js'
import type {PortProto} from './bindings.js'
import {describeForward} from './loopback.js'
import type {ForwardHandle, ForwardSpec, ForwardTransport} from './transports.js'

/** Runs one HMP command line; resolves with its output, which is empty on success. */
export type HmpCommand = (commandLine: string) => Promise<string>

export interface SlirpTransportOptions {
  /** The user-mode netdev's id on the QEMU command line. */
  netdev?: string
  /** Serves [::1] forwards, which slirp cannot; without it they are refused. */
  ipv6Fallback?: ForwardTransport
}

/** HMP through QMP's human-monitor-command, so no second monitor socket is needed. */
export function hmpOverQmp(qmp: Pick<QmpClient, 'execute'>): HmpCommand {
  return async (commandLine) => {
    const output = await qmp.execute('human-monitor-command', {'command-line': commandLine})
    return typeof output === 'string' ? output : ''
  }
}

export class SlirpTransport implements ForwardTransport {
  private readonly netdev: string

  constructor(private readonly hmp: HmpCommand, private readonly options: SlirpTransportOptions = {}) {
    this.netdev = options.netdev ?? 'net0'
    // The id is pasted into a monitor command line; keep it a plain identifier.
    if (!/^[A-Za-z][\w.-]*$/.test(this.netdev)) throw new Error(`netdev id ${this.netdev} is not a QEMU identifier`)
  }

  async open(spec: ForwardSpec): Promise<ForwardHandle> {
    if (spec.listenAddress === '127.0.0.1') return this.forward(spec.proto, spec.hostPort, spec.hostPort)
    if (this.options.ipv6Fallback) return this.options.ipv6Fallback.open(spec)
    throw new Error(
      `${describeForward(spec.proto, spec.listenAddress, spec.hostPort)} cannot be forwarded by QEMU user-mode networking, which listens on IPv4 only`,
    )
  }

  /** Forwards 127.0.0.1:hostPort on the host to guestPort on the guest. */
  async forward(proto: PortProto, hostPort: number, guestPort: number): Promise<ForwardHandle> {
    for (const port of [hostPort, guestPort]) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${port} is not a port number`)
    }
    const name = describeForward(proto, '127.0.0.1', hostPort)
    const rule = `${proto}:127.0.0.1:${hostPort}`
    // QEMU gives no errno: a rule it could not set up is, in practice, a port something else holds.
    const added = (await this.hmp(`hostfwd_add ${this.netdev} ${rule}-:${guestPort}`)).trim()
    if (added) throw new Error(`${name} is in use on the host or cannot be bound (QEMU: ${added})`)
    let removal: Promise<void> | undefined
    return {
      close: () =>
        (removal ??= this.hmp(`hostfwd_remove ${this.netdev} ${rule}`).then((output) => {
          // QEMU 7.2 says "host forwarding rule for tcp:127.0.0.1:8080 removed" on success (measured)
          if (output.trim() && !/\bremoved\s*$/.test(output.trim())) throw new Error(`QEMU did not remove the forward of ${name}: ${output.trim()}`)
        })),
    }
  }
}
