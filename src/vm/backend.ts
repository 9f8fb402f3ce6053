// The daemon's seam to whatever runs the VM (QEMU today), in the spirit of lima's pkg/driver: the daemon says
// what the VM is (a MachineSpec) and the backend knows how it runs. What a backend supports is data, so the
// daemon and doctor can choose without knowing the backend.
import type {EventEmitter} from 'node:events'

import type {NetworkMode} from '../config/index.js'
import type {Accel, NetSpec, ShareSpec, VmSpec} from '../hypervisor/qemu-argv.js'

export type ShareTransport = 'virtiofs' | '9p'

export interface BackendCapabilities {
  accelerators: readonly Accel[]
  shareTransports: readonly ShareTransport[]
  networkModes: readonly NetworkMode[]
}

/**
 * What the VM is, independent of how it runs: the machine part of the typed VM description (hypervisor/
 * qemu-argv.ts), plus what the daemon provides around it.
 */
export type MachineSpec = Pick<VmSpec, 'arch' | 'accel' | 'cpus' | 'memoryMiB' | 'kernel' | 'initrd' | 'cmdline' | 'rootImage'> & {
  name: string
  dataDisk: string
  /** The guest settings bundle (fw_cfg); a path, never its contents. */
  settingsFile: string
  net: NetSpec
  /** Descriptors the VM process inherits as fd 3, 4, ... (a tap). */
  inheritFds: number[]
  /** The shared directories, each with its own device tag. */
  shares: ShareSpec[]
  /** Guest serial console log. */
  consoleLog: string
  /** Where the guest's readiness port (its DLITE-* markers, on a channel of their own) is written. */
  readinessLog: string
  /** The host end of the host-to-guest control port (the host's clock). */
  guestControlSocket: string
  /** The host end of the host-to-guest port for file changes under the shares. */
  shareEventsSocket: string
  /** The backend's own log (QEMU's stderr). */
  log: string
}

/**
 * A running VM. Events: `spawn` (pid, each launch), `exit` (info, willRestart, pid), `restart` (attempt), `gave-up`
 * (reason), `launch-error` (error), `hard-stop` (why the guest was not waited for), `paused` and `resumed` (the guest
 * stopped and runs again, whoever paused or continued it: its clock stands still meanwhile). Work before each launch goes in
 * StartOptions.beforeLaunch.
 */
export interface VmInstance extends EventEmitter {
  /** The VM process while it runs; undefined once it exited. */
  readonly pid: number | undefined
  readonly restarts: number
  /** Asks the guest to power off (ACPI), and stops it hard when it has not after timeoutMs. */
  powerDown(timeoutMs: number): Promise<void>
  /** Stops it now, without the guest's say (a hung boot). */
  kill(): Promise<void>
  waitForExit(): Promise<void>
  /** A monitor command (QEMU's HMP); returns what it printed (empty on success for most commands). */
  monitor(commandLine: string): Promise<string>
  /** Whether the guest runs, or why it is paused (`io-error`: a disk write failed, e.g. the host disk is full). */
  runState(): Promise<VmRunState>
  /** Stops the guest's CPUs where they are; its memory and devices stay as they were. */
  pause(): Promise<void>
  /** Lets a paused guest go on (paused by pause(), or after the cause of an io-error is gone). */
  resume(): Promise<void>
  /**
   * Writes the guest's memory and devices to a file, with its sha256 (the guest must have let go of what cannot be
   * saved: its virtiofs shares), and leaves it paused: quit() it after, or resume() it on failure.
   */
  saveState(toFile: string): Promise<{bytes: number; sha256: string}>
  /** Loads a saved state into a VM started with `incoming`; the guest stays paused until resume(). */
  loadState(fromFile: string): Promise<{bytes: number; sha256: string}>
  /** A loaded state runs: the devices left out of the save come back, and exits are restarted from now on. */
  resumed(): Promise<void>
  /** Ends the VM process without the guest's say, once its state is saved. */
  quit(): Promise<void>
}

export interface VmRunState {
  running: boolean
  /** The hypervisor's word for it: running, paused, io-error, ... */
  status: string
}

export interface StartOptions {
  /** Runs before every launch, restarts included (a share server that exits with its VM). */
  beforeLaunch?: () => Promise<void>
  /** The first launch waits, paused, for a saved state (loadState); a restart after it boots cold. */
  incoming?: boolean
}

export interface VmBackend {
  readonly name: string
  readonly capabilities: BackendCapabilities
  start(spec: MachineSpec, options?: StartOptions): Promise<VmInstance>
}
