/** dlite-native: the host side of dlite's hypervisor (Linux and macOS). */

/** What every accelerator entry says. */
export interface AcceleratorProbe {
  /** The accelerator exists on this host (device node / sysctl present). */
  present: boolean;
  /** It can run a stock (unmodified) guest kernel. */
  usable: boolean;
  /** Why it is (not) usable, in words a user understands; names the fix where there is one. */
  reason: string;
}

export type KvmSelfTestStage =
  | 'create-vm'
  | 'real-mode'
  | 'protected-mode'
  | 'paging'
  | 'long-mode'
  | 'kernel-loop'
  | 'kernel-loop-done'
  | 'user-loop'
  | 'done'
  | 'unknown';

/**
 * A throwaway VM whose vCPU walks a stock kernel's early boot path (real mode,
 * protected mode, paging + long mode, kernel-half addresses) and then runs the
 * same busy loop in kernel mode (CPL0) and user mode (CPL3). It runs in a
 * forked child with a hard deadline.
 */
export interface KvmSelfTest {
  /** Kernel-mode code ran at native speed: a stock guest can boot. */
  ok: boolean;
  /** The last stage the guest reported. */
  stage: KvmSelfTestStage;
  /** A stage or loop hit its deadline (the loops' deadlines are expected on emulating backends). */
  timedOut: boolean;
  /** What failed, or null. */
  error: string | null;
  durationMs: number;
  kernelLoopIterations: number;
  /** Loop iterations per CPU-second in kernel mode; null if unmeasured. ~1e9 on hardware virtualization. */
  kernelLoopRate: number | null;
  userLoopIterations: number;
  userLoopRate: number | null;
}

export interface KvmProbe extends AcceleratorProbe {
  device: '/dev/kvm';
  /** /dev/kvm could be opened read-write by this process. */
  accessible: boolean;
  /** KVM_GET_API_VERSION (12 on every current kernel), null when not opened. */
  apiVersion: number | null;
  /** The vendor module backing KVM: kvm_intel, kvm_amd, kvm_pvm, ... or null. */
  backend: string | null;
  /** hardware (kvm_intel/kvm_amd), paravirtual (another kvm_* module), unknown. */
  backendKind: 'hardware' | 'paravirtual' | 'unknown';
  /** vmx or svm when /proc/cpuinfo advertises hardware virtualization. */
  cpuVirtFlag: 'vmx' | 'svm' | null;
  /** KVM_CHECK_EXTENSION results by capability name without KVM_CAP_ (0 = absent). */
  capabilities: Record<string, number>;
  /** Capabilities QEMU refuses to start without that are absent. */
  missingCapabilities: string[];
  /** null when skipped or not possible (not accessible, not x86_64). */
  selfTest: KvmSelfTest | null;
}

export interface HvfProbe extends AcceleratorProbe {
  /** kern.hv_support, null when the sysctl does not exist. */
  sysctl: number | null;
}

export interface ProbeResult {
  platform: 'linux' | 'darwin' | 'unknown';
  arch: 'x64' | 'arm64' | 'unknown';
  /** uname -m */
  machine: string | null;
  /** uname -r */
  kernelRelease: string | null;
  accelerators: {
    /** Linux only; null elsewhere. */
    kvm: KvmProbe | null;
    /** macOS only; null elsewhere. */
    hvf: HvfProbe | null;
  };
  devices: {
    kvm: boolean;
    netTun: boolean;
    vhostNet: boolean;
    vhostVsock: boolean;
  };
  durationMs: number;
}

export interface ProbeOptions {
  /** Run the KVM self-test VM (default true). Without it, usability is judged from the vendor module alone. */
  selfTest?: boolean;
  /** Hard deadline for the self-test child in ms, 100..10000 (default 1000). */
  selfTestTimeoutMs?: number;
}

/** Probes the host's accelerators and devices. Synchronous; ~0.2 s at most with the self-test. */
export function probe(options?: ProbeOptions): ProbeResult;

export interface OpenTapOptions {
  /** IFF_VNET_HDR (QEMU's vnet_hdr=on). Default false. */
  vnetHdr?: boolean;
  /** Keep the device after the fd is closed (TUNSETPERSIST). Default false. */
  persist?: boolean;
  /** O_CLOEXEC on the fd (default true); pass it to QEMU through spawn's stdio array. */
  cloexec?: boolean;
}

export interface TapHandle {
  fd: number;
  /** The device name the kernel used (expands a %d pattern). */
  name: string;
  vnetHdr: boolean;
  persist: boolean;
}

/** Error thrown by openTap/closeFd: `code` is the errno name (EPERM, EBUSY, ENOENT, EINVAL, ...). */
export interface NativeErrnoError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

/**
 * Creates (or attaches to) tap device `name` (IFF_TAP | IFF_NO_PI) and returns its fd,
 * for QEMU's `-netdev tap,fd=N`. Needs CAP_NET_ADMIN to create. Linux only (ENOTSUP elsewhere).
 * @throws NativeErrnoError code EPERM/EACCES (no CAP_NET_ADMIN), EBUSY (in use),
 *   ENOENT/ENODEV (no /dev/net/tun), EINVAL (name taken by a non-tap interface);
 *   TypeError code ERR_INVALID_ARG_VALUE for a bad name.
 */
export function openTap(name: string, options?: OpenTapOptions): TapHandle;

/** Closes an fd returned by openTap (a non-persistent tap disappears with its last fd). */
export function closeFd(fd: number): void;

/**
 * flock(2) without blocking: true when the lock was taken (or released, for 'unlock'), false when another open
 * file description holds a conflicting lock. The kernel drops the lock when the last fd of that description closes,
 * including when the process dies.
 * @throws NativeErrnoError for a bad fd (EBADF) and the like.
 */
export function flock(fd: number, mode: 'exclusive' | 'shared' | 'unlock'): boolean;

/** The platform the addon was compiled for. */
export const platform: 'linux' | 'darwin' | 'unknown';

export interface PeerCredentials {
  /** The peer's pid (Linux); null where the platform does not say (macOS). */
  pid: number | null;
  uid: number;
  gid: number;
}

/** Who is at the other end of a connected unix socket (SO_PEERCRED on Linux, getpeereid on macOS). */
export function peerCredentials(fd: number): PeerCredentials;

/**
 * Sends `text` and a copy of `fd` in one message (SCM_RIGHTS) on a connected unix socket. The root helper answers
 * a user's daemon this way with the tap it opened. Throws NativeErrnoError.
 */
export function sendFd(socketFd: number, text: string, fd: number): void;

export interface FdAnswer {
  /** What the peer sent, up to its first newline or its close. */
  text: string;
  /** The descriptor the answer carried (close-on-exec), or null. */
  fd: number | null;
}

/** Connects to the unix socket at `path`, sends `text`, and reads the answer and the fd it carries, within timeoutMs. */
export function requestFd(path: string, text: string, timeoutMs: number): FdAnswer;

/**
 * An IPv4 socket bound to address:port (UDP), or bound and listening (TCP), close-on-exec, as an fd. Root makes
 * one on a privileged port for a user's process. Throws NativeErrnoError (EADDRINUSE, EADDRNOTAVAIL, EACCES...).
 */
export function bindSocket(protocol: 'udp' | 'tcp', address: string, port: number): number;
