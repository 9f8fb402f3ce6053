/**
 * Pure construction of a QEMU command line from a typed VM description.
 *
 * No I/O happens here: the caller (the VM daemon, the boot smoke test) decides
 * paths, opens tap devices and passes their fds, writes the settings bundle to a
 * file. Secrets never go on argv: the guest settings travel as
 * `-fw_cfg name=opt/org.dlite/settings,file=PATH`, i.e. a path QEMU reads.
 */
import {GUEST_CONTRACT_VALUES} from '../guest/contract.js'

export type Accel = 'kvm' | 'hvf' | 'tcg'
export type GuestArch = 'x86_64' | 'aarch64'

export interface DiskSpec {
  path: string
  format?: 'raw' | 'qcow2'
  /** pass guest discards (TRIM) down to the image so a sparse file shrinks; default true */
  discard?: boolean
  /** virtio serial number the guest identifies the disk by */
  serial?: string
  readOnly?: boolean
  cache?: 'none' | 'writeback' | 'writethrough' | 'unsafe' | 'directsync'
}

export type NetSpec =
  | {type: 'tap'; fd: number; mac?: string}
  | {type: 'tap'; ifname: string; mac?: string}
  /** slirp: `net` the guest network (CIDR), `host` the guest's alias for the host's loopback, `dns` slirp's resolver */
  | {type: 'user'; mac?: string; net?: string; host?: string; dns?: string; hostfwd?: string[]}
  /**
   * QEMU connects to a unix stream socket itself (QEMU >= 7.2), e.g. socket_vmnet's: frames go with a 4-byte
   * length prefix, the framing of QEMU's socket/stream netdevs that socket_vmnet speaks.
   */
  | {type: 'stream'; path: string; mac?: string}

export type ShareSpec =
  | {type: 'virtiofs'; socketPath: string; tag: string}
  | {type: '9p'; path: string; tag: string; readOnly?: boolean}

export type ReadinessSpec =
  /** guest lines are appended to this file */
  | {type: 'file'; path: string}
  /** QEMU listens on this unix socket (server, no wait); the host connects and reads lines */
  | {type: 'socket'; path: string}

export interface VmSpec {
  /** guest architecture; default x86_64 */
  arch?: GuestArch
  accel: Accel
  /** QEMU's seccomp filter (QEMU_SANDBOX); only where the binary has it (qemu-sandbox.ts finds out) */
  sandbox?: boolean
  /** TCG translation-cache size in MiB (bounds QEMU's RSS); default 64, only used with tcg */
  tcgTbSizeMiB?: number
  /** x86_64: q35 (default) or microvm; aarch64: always virt */
  machine?: 'q35' | 'microvm'
  cpus: number
  memoryMiB: number
  kernel: string
  initrd?: string
  /** kernel command line; never put secrets here (it is world-readable on the host) */
  cmdline?: string
  /** the read-only root image (squashfs), exposed as virtio disk with serial dlite-root */
  rootImage?: string
  /** the persistent data disk, virtio with serial dlite-data */
  dataDisk?: DiskSpec
  extraDisks?: DiskSpec[]
  /** file QEMU passes to the guest as fw_cfg opt/org.dlite/settings */
  settingsFile?: string
  /** fw_cfg name for settingsFile; default opt/org.dlite/settings */
  settingsName?: string
  net?: NetSpec
  /** host directories, each a device of its own with a distinct tag */
  shares?: ShareSpec[]
  qmpSocket?: string
  /** the guest's serial console is written to this file: serial port 0, ttyS0 on q35/microvm, the PL011 ttyAMA0 on virt */
  serialLog?: string
  readiness?: ReadinessSpec
  /** QEMU listens on this unix socket for the host-to-guest port org.dlite.control (server, no wait) */
  guestControlSocket?: string
  /** QEMU listens on this unix socket for the host-to-guest port org.dlite.files (server, no wait) */
  shareEventsSocket?: string
  pidFile?: string
  /** process / guest name shown in ps and QMP */
  name?: string
  /** exit instead of rebooting when the guest reboots or panics; default true */
  noReboot?: boolean
  /** virtio-rng for fast early entropy; default true */
  rng?: boolean
  /**
   * virtio-balloon with free page reporting: the guest hands pages it freed back to the host, so QEMU's
   * memory shrinks after a container that used a lot exits (and a saved state carries them as zero pages, next
   * to nothing). Default true.
   */
  freePageReporting?: boolean
  /**
   * Start paused, waiting for a saved state (QMP migrate-incoming). The VM is started as it was when its state was
   * saved: without its virtiofs devices, which were unplugged for the save (virtiofsDeviceAdds plugs them back).
   */
  incoming?: boolean
}

export interface QemuCommand {
  binary: string
  args: string[]
}

// names the guest looks for (os/contract.json)
export const SETTINGS_FW_CFG_NAME = GUEST_CONTRACT_VALUES.settingsFwCfgName
export const READINESS_PORT_NAME = GUEST_CONTRACT_VALUES.readinessPortName
export const GUEST_CONTROL_PORT_NAME = GUEST_CONTRACT_VALUES.guestControlPortName
export const SHARE_EVENTS_PORT_NAME = GUEST_CONTRACT_VALUES.shareEventsPortName
export const ROOT_DISK_SERIAL = GUEST_CONTRACT_VALUES.rootDiskSerial
export const DATA_DISK_SERIAL = GUEST_CONTRACT_VALUES.dataDiskSerial
export const DEFAULT_TCG_TB_SIZE_MIB = 64
/**
 * QEMU's seccomp filter, as libvirt sets it by default: no obsolete syscalls, no setuid, no fork/exec, no
 * scheduler or resource changes. A guest that breaks out into QEMU finds it cannot start a program.
 */
export const QEMU_SANDBOX = 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny'

export class QemuSpecError extends Error {
  override name = 'QemuSpecError'
}

/** Escape a value for QEMU's `key=value,key=value` option syntax (commas are doubled). */
export function qemuOptValue(value: string): string {
  return value.replaceAll(',', ',,')
}

function requirePath(what: string, p: string | undefined): string {
  if (!p || !p.startsWith('/')) throw new QemuSpecError(`${what} must be an absolute path (got ${JSON.stringify(p)})`)
  if (/[\n\0]/.test(p)) throw new QemuSpecError(`${what} contains a newline or NUL`)
  return qemuOptValue(p)
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i
const TAG_RE = /^[A-Za-z0-9_.-]{1,36}$/
const FW_CFG_RE = /^opt\/[A-Za-z0-9_.\-/]{1,50}$/

function diskArgs(id: string, d: DiskSpec, pci: boolean): string[] {
  const opts = [
    `file=${requirePath(`${id} disk path`, d.path)}`,
    'if=none',
    `id=${id}`,
    `format=${d.format ?? 'raw'}`,
    `cache=${d.cache ?? (d.readOnly ? 'writeback' : 'writeback')}`,
    'aio=threads',
  ]
  if (d.readOnly) opts.push('readonly=on')
  if (d.discard ?? !d.readOnly) opts.push('discard=unmap', 'detect-zeroes=unmap')
  const dev = [pci ? 'virtio-blk-pci' : 'virtio-blk-device', `drive=${id}`]
  if (d.serial) {
    if (!/^[A-Za-z0-9_-]{1,20}$/.test(d.serial)) throw new QemuSpecError(`disk serial ${d.serial} must be 1-20 of [A-Za-z0-9_-]`)
    dev.push(`serial=${d.serial}`)
  }
  if (d.discard ?? !d.readOnly) dev.push('discard=on')
  return ['-drive', opts.join(','), '-device', dev.join(',')]
}

/**
 * Build QEMU's argv for a VM. Throws QemuSpecError on an invalid spec.
 * The returned args never contain secrets and never depend on the environment.
 */
/**
 * Kernel arguments added under software emulation. Multi-threaded TCG races with the guest kernel patching its
 * own code (static keys) while another vCPU runs it: the guest crashed in the allocator's fast paths (`Oops: int3`
 * in `__kmalloc_noprof` and `get_page_from_freelist`, a torn jump in `__alloc_pages_noprof`) right as docker made
 * its first cgroups. The first memory cgroup flips the kmem and socket accounting keys, and the first cpuset
 * cgroup flips `cpusets_enabled_key`, which guards every page allocation; without that accounting and without
 * the cpuset controller those keys never flip. Containers keep their memory and CPU limits; kernel memory is
 * not charged to them and docker has no cpuset support. Hardware accelerators keep everything.
 * `mitigations=off`: TCG's emulated CPU does not speculate, so Spectre/Meltdown mitigations buy nothing there,
 * and page-table isolation makes every syscall flush QEMU's soft TLB. Under kvm and hvf they stay on.
 */
export const TCG_KERNEL_ARGS = 'cgroup.memory=nokmem,nosocket cgroup_disable=cpuset mitigations=off'

/** The kernel command line for this accelerator: the image's own, plus TCG_KERNEL_ARGS under tcg. */
export function kernelCmdlineFor(cmdline: string | undefined, accel: Accel): string | undefined {
  if (accel !== 'tcg') return cmdline
  return cmdline ? `${cmdline} ${TCG_KERNEL_ARGS}` : TCG_KERNEL_ARGS
}

/**
 * The guest CPU: the host's own under a hardware accelerator, QEMU's most capable model under tcg. On an Intel
 * Mac (x86_64 under hvf) without 1 GiB pages: Hypervisor.framework does not back them and a guest that uses them
 * crashes (lima-vm/lima#1485, fixed in lima by `host,-pdpe1gb`, PR #1487). aarch64 under tcg: QEMU's own pointer
 * authentication algorithm instead of the architected QARMA, which is slow to emulate (QEMU's docs advise it;
 * measured here: docker ready 16-20 s after launch instead of 40 s).
 */
export function cpuModel(arch: GuestArch, accel: Accel): string {
  if (accel === 'tcg') return arch === 'aarch64' ? 'max,pauth-impdef=on' : 'max'
  return arch === 'x86_64' && accel === 'hvf' ? 'host,-pdpe1gb' : 'host'
}

const VIRTIOFS_PORT_ID = 'vfsport'
const VIRTIOFS_DEVICE_ID = 'vfsdev'

function virtiofsDeviceOptions(index: number, tag: string): string {
  return `vhost-user-fs-pci,id=${VIRTIOFS_DEVICE_ID}${index},bus=${VIRTIOFS_PORT_ID}${index},chardev=vfs${index},tag=${tag}`
}

/** The QMP device ids of the VM's virtiofs devices: what is unplugged before a save. */
export function virtiofsDeviceIds(spec: Pick<VmSpec, 'shares'>): string[] {
  return (spec.shares ?? []).flatMap((share, index) => share.type === 'virtiofs' ? [`${VIRTIOFS_DEVICE_ID}${index}`] : [])
}

/** QMP device_add arguments that plug the virtiofs devices back in after a resume, as -device had them. */
export function virtiofsDeviceAdds(spec: Pick<VmSpec, 'shares'>): Record<string, string>[] {
  return (spec.shares ?? []).flatMap((share, index) => share.type === 'virtiofs'
    ? [{driver: 'vhost-user-fs-pci', id: `${VIRTIOFS_DEVICE_ID}${index}`, bus: `${VIRTIOFS_PORT_ID}${index}`, chardev: `vfs${index}`, tag: share.tag}]
    : [])
}

export function buildQemuArgv(spec: VmSpec): QemuCommand {
  const arch = spec.arch ?? 'x86_64'
  if (!Number.isInteger(spec.cpus) || spec.cpus < 1 || spec.cpus > 255) throw new QemuSpecError(`cpus must be an integer 1..255 (got ${spec.cpus})`)
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 128) throw new QemuSpecError(`memoryMiB must be an integer >= 128 (got ${spec.memoryMiB})`)
  if (!['kvm', 'hvf', 'tcg'].includes(spec.accel)) throw new QemuSpecError(`accel must be kvm, hvf or tcg (got ${spec.accel})`)
  if (arch !== 'x86_64' && arch !== 'aarch64') throw new QemuSpecError(`arch must be x86_64 or aarch64 (got ${arch})`)
  if (arch === 'aarch64' && spec.machine) throw new QemuSpecError(`machine ${spec.machine} is x86_64 only: aarch64 guests run on virt`)
  if (spec.cmdline !== undefined && /[\n\0]/.test(spec.cmdline)) throw new QemuSpecError('cmdline contains a newline or NUL')
  const machine = arch === 'aarch64' ? 'virt' : (spec.machine ?? 'q35')
  const pci = machine !== 'microvm'
  const virtio = (dev: string) => `${dev}-${pci ? 'pci' : 'device'}`

  const args: string[] = []
  if (spec.sandbox) args.push('-sandbox', QEMU_SANDBOX)
  if (spec.name) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(spec.name)) throw new QemuSpecError(`name ${spec.name} must be 1-64 of [A-Za-z0-9_.-]`)
    args.push('-name', `${spec.name},process=${spec.name}`)
  }

  // accelerator and machine
  if (spec.accel === 'tcg') {
    const tb = spec.tcgTbSizeMiB ?? DEFAULT_TCG_TB_SIZE_MIB
    if (!Number.isInteger(tb) || tb < 1 || tb > 2048) throw new QemuSpecError(`tcgTbSizeMiB must be an integer 1..2048 (got ${tb})`)
    args.push('-accel', `tcg,thread=multi,tb-size=${tb}`)
  } else {
    if (spec.tcgTbSizeMiB !== undefined) throw new QemuSpecError('tcgTbSizeMiB only applies to accel tcg')
    args.push('-accel', spec.accel)
  }
  const machineOpts = [machine]
  if (machine === 'microvm') machineOpts.push('acpi=on', 'pcie=off', 'rtc=on')
  if (machine === 'q35') machineOpts.push('vmport=off', 'smbus=off')
  // virt: QEMU's GIC choice (hw/arm/virt.c finalize_gic_version) offers v2 and v3 under tcg and hvf alike (hvf
  // uses QEMU's own GICv3, ICC_* registers trapped), so `max` is GICv3 under both; virt's default is GICv2, which
  // caps the guest at 8 vCPUs. No highmem=off: since QEMU 7.0 virt fits its memory map to the host's IPA size
  // under hvf, and highmem=off then fails above 3 GiB (lima-vm/lima 7046952, "Clean up codes for QEMU < 7.0").
  // No firmware: -kernel boots the arm64 Image directly, with a device tree, as on q35.
  if (machine === 'virt') machineOpts.push('gic-version=max')
  args.push('-machine', machineOpts.join(','))
  args.push('-cpu', cpuModel(arch, spec.accel))
  args.push('-smp', String(spec.cpus))

  // memory: virtiofs needs guest RAM shared with virtiofsd
  if (spec.shares?.some((share) => share.type === 'virtiofs')) {
    args.push('-m', `${spec.memoryMiB}M`)
    args.push('-object', `memory-backend-memfd,id=mem,size=${spec.memoryMiB}M,share=on`)
    args.push('-numa', 'node,memdev=mem')
  } else {
    args.push('-m', `${spec.memoryMiB}M`)
  }

  args.push('-nodefaults', '-no-user-config', '-display', 'none', '-vga', 'none')
  if (spec.noReboot ?? true) args.push('-no-reboot')
  args.push('-rtc', 'base=utc,clock=host')

  // boot
  args.push('-kernel', requirePath('kernel', spec.kernel))
  if (spec.initrd) args.push('-initrd', requirePath('initrd', spec.initrd))
  if (spec.cmdline) args.push('-append', spec.cmdline)

  // disks
  if (spec.rootImage) {
    args.push(...diskArgs('root', {path: spec.rootImage, format: 'raw', readOnly: true, discard: false, serial: ROOT_DISK_SERIAL}, pci))
  }
  if (spec.dataDisk) {
    args.push(...diskArgs('data', {serial: DATA_DISK_SERIAL, discard: true, ...spec.dataDisk}, pci))
  }
  for (const [i, d] of (spec.extraDisks ?? []).entries()) args.push(...diskArgs(`disk${i}`, d, pci))

  // settings (a path; QEMU reads the file once at start)
  if (spec.settingsFile) {
    const name = spec.settingsName ?? SETTINGS_FW_CFG_NAME
    if (!FW_CFG_RE.test(name)) throw new QemuSpecError(`settingsName ${name} must look like opt/<name>`)
    args.push('-fw_cfg', `name=${name},file=${requirePath('settingsFile', spec.settingsFile)}`)
  }

  // network
  if (spec.net) {
    if (spec.net.mac && !MAC_RE.test(spec.net.mac)) throw new QemuSpecError(`mac ${spec.net.mac} is not a MAC address`)
    let netdev: string
    if (spec.net.type === 'tap') {
      if ('fd' in spec.net) {
        if (!Number.isInteger(spec.net.fd) || spec.net.fd < 3) throw new QemuSpecError(`tap fd must be an inherited fd >= 3 (got ${spec.net.fd})`)
        netdev = `tap,id=net0,fd=${spec.net.fd}`
      } else {
        if (!/^[A-Za-z0-9_.-]{1,15}$/.test(spec.net.ifname)) throw new QemuSpecError(`tap ifname ${spec.net.ifname} is not a valid interface name`)
        netdev = `tap,id=net0,ifname=${spec.net.ifname},script=no,downscript=no`
      }
    } else if (spec.net.type === 'stream') {
      netdev = `stream,id=net0,server=off,addr.type=unix,addr.path=${requirePath('stream socket path', spec.net.path)}`
    } else {
      netdev = 'user,id=net0'
      if (spec.net.net !== undefined) {
        if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(spec.net.net)) throw new QemuSpecError(`user net ${spec.net.net} must be an IPv4 CIDR`)
        netdev += `,net=${spec.net.net}`
      }
      for (const key of ['host', 'dns'] as const) {
        const address = spec.net[key]
        if (address === undefined) continue
        if (!/^\d+\.\d+\.\d+\.\d+$/.test(address)) throw new QemuSpecError(`user ${key} ${address} must be an IPv4 address`)
        netdev += `,${key}=${address}`
      }
      for (const f of spec.net.hostfwd ?? []) {
        if (!/^(tcp|udp):[0-9.]*:\d+-[0-9.]*:\d+$/.test(f)) throw new QemuSpecError(`hostfwd ${f} must look like tcp:127.0.0.1:2222-:22`)
        netdev += `,hostfwd=${f}`
      }
    }
    args.push('-netdev', netdev)
    args.push('-device', [virtio('virtio-net'), 'netdev=net0', ...(spec.net.mac ? [`mac=${spec.net.mac.toLowerCase()}`] : [])].join(','))
  }

  // host directory shares
  const tags = new Set<string>()
  for (const [index, share] of (spec.shares ?? []).entries()) {
    if (!TAG_RE.test(share.tag)) throw new QemuSpecError(`share tag ${share.tag} must be 1-36 of [A-Za-z0-9_.-]`)
    if (tags.has(share.tag)) throw new QemuSpecError(`share tag ${share.tag} is used twice`)
    tags.add(share.tag)
    if (share.type === 'virtiofs') {
      args.push('-chardev', `socket,id=vfs${index},path=${requirePath('virtiofs socketPath', share.socketPath)}`)
      if (!pci) {
        args.push('-device', `vhost-user-fs-device,chardev=vfs${index},tag=${share.tag}`)
        continue
      }
      // QEMU cannot save a vhost-user-fs device: it is unplugged before a save and plugged back after the resume,
      // which a device on the root bus refuses ("does not support hotplugging"); behind a root port of its own it can
      args.push('-device', `pcie-root-port,id=${VIRTIOFS_PORT_ID}${index},chassis=${index + 1}`)
      if (!spec.incoming) args.push('-device', virtiofsDeviceOptions(index, share.tag))
    } else {
      // the tag belongs to the device; -fsdev refuses mount_tag (QEMU exits: "Invalid parameter 'mount_tag'")
      const opts = [`local,id=fs${index},path=${requirePath('9p share path', share.path)}`, 'security_model=none']
      if (share.readOnly) opts.push('readonly=on')
      args.push('-fsdev', opts.join(','))
      args.push('-device', `${virtio('virtio-9p')},fsdev=fs${index},mount_tag=${share.tag}`)
    }
  }

  // control and observation channels
  if (spec.qmpSocket) {
    args.push('-chardev', `socket,id=qmp0,path=${requirePath('qmpSocket', spec.qmpSocket)},server=on,wait=off`)
    args.push('-mon', 'chardev=qmp0,mode=control')
  }
  if (spec.serialLog) {
    args.push('-chardev', `file,id=ser0,path=${requirePath('serialLog', spec.serialLog)}`)
    args.push('-serial', 'chardev:ser0')
  } else {
    args.push('-serial', 'none')
  }
  // virtio-serial ports: lines of their own, with no kernel messages among them (unlike the serial console)
  if (spec.readiness || spec.guestControlSocket || spec.shareEventsSocket) args.push('-device', virtio('virtio-serial'))
  if (spec.readiness) {
    const p = requirePath('readiness path', spec.readiness.path)
    args.push('-chardev', spec.readiness.type === 'file' ? `file,id=ready0,path=${p}` : `socket,id=ready0,path=${p},server=on,wait=off`)
    args.push('-device', `virtserialport,chardev=ready0,name=${READINESS_PORT_NAME}`)
  }
  if (spec.guestControlSocket) {
    const p = requirePath('guestControlSocket', spec.guestControlSocket)
    args.push('-chardev', `socket,id=control0,path=${p},server=on,wait=off`)
    args.push('-device', `virtserialport,chardev=control0,name=${GUEST_CONTROL_PORT_NAME}`)
  }
  if (spec.shareEventsSocket) {
    const p = requirePath('shareEventsSocket', spec.shareEventsSocket)
    args.push('-chardev', `socket,id=files0,path=${p},server=on,wait=off`)
    args.push('-device', `virtserialport,chardev=files0,name=${SHARE_EVENTS_PORT_NAME}`)
  }
  if (spec.rng ?? true) {
    args.push('-object', 'rng-random,id=rng0,filename=/dev/urandom', '-device', `${virtio('virtio-rng')},rng=rng0`)
  }
  if (spec.freePageReporting ?? true) args.push('-device', `${virtio('virtio-balloon')},free-page-reporting=on`)
  if (spec.pidFile) args.push('-pidfile', requirePath('pidFile', spec.pidFile))
  if (spec.incoming) {
    if (!pci && spec.shares?.some((share) => share.type === 'virtiofs')) throw new QemuSpecError('a microvm with a virtiofs share cannot be resumed from a saved state (its device cannot be unplugged)')
    // -S: the guest stays paused after the state loads, whatever it was when saved, until the host has checked it
    args.push('-S', '-incoming', 'defer')
  }

  return {binary: `qemu-system-${arch}`, args}
}
