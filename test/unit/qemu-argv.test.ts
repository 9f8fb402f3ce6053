import {expect} from 'chai'

import {
  buildQemuArgv, cpuModel, kernelCmdlineFor, QEMU_SANDBOX, qemuOptValue, QemuSpecError, TCG_KERNEL_ARGS, virtiofsDeviceAdds, virtiofsDeviceIds,
  type VmSpec,
} from '../../src/hypervisor/qemu-argv.js'
import {qemuHasSandbox} from '../../src/hypervisor/qemu-sandbox.js'

const base: VmSpec = {accel: 'tcg', cpus: 2, memoryMiB: 2048, kernel: '/img/vmlinuz', initrd: '/img/initrd.img', cmdline: 'console=ttyS0'}

/** the value following the n-th occurrence of flag */
function opt(args: string[], flag: string, n = 0): string | undefined {
  const idx = args.flatMap((a, i) => (a === flag ? [i] : []))
  return idx[n] === undefined ? undefined : args[idx[n] + 1]
}
function all(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []))
}

describe('buildQemuArgv', () => {
  it('builds a bounded TCG machine with -cpu max by default', () => {
    const {binary, args} = buildQemuArgv(base)
    expect(binary).to.equal('qemu-system-x86_64')
    expect(opt(args, '-accel')).to.equal('tcg,thread=multi,tb-size=64')
    expect(opt(args, '-cpu')).to.equal('max')
    expect(opt(args, '-smp')).to.equal('2')
    expect(opt(args, '-m')).to.equal('2048M')
    expect(opt(args, '-machine')).to.match(/^q35,/)
    expect(args).to.include('-no-reboot')
    expect(args).to.include('-nodefaults')
    expect(opt(args, '-rtc')).to.equal('base=utc,clock=host')
    expect(opt(args, '-kernel')).to.equal('/img/vmlinuz')
    expect(opt(args, '-initrd')).to.equal('/img/initrd.img')
    expect(opt(args, '-append')).to.equal('console=ttyS0')
  })

  it('honours a custom TCG cache size and rejects it for other accelerators', () => {
    expect(opt(buildQemuArgv({...base, tcgTbSizeMiB: 128}).args, '-accel')).to.equal('tcg,thread=multi,tb-size=128')
    expect(() => buildQemuArgv({...base, accel: 'kvm', tcgTbSizeMiB: 128})).to.throw(QemuSpecError, /only applies to accel tcg/)
    expect(() => buildQemuArgv({...base, tcgTbSizeMiB: 0})).to.throw(QemuSpecError, /tcgTbSizeMiB/)
  })

  it('uses -cpu host with kvm and hvf (on an Intel Mac without 1 GiB pages)', () => {
    for (const accel of ['kvm', 'hvf'] as const) {
      const {args} = buildQemuArgv({...base, accel})
      expect(opt(args, '-accel')).to.equal(accel)
      expect(opt(args, '-cpu')).to.equal(accel === 'hvf' ? 'host,-pdpe1gb' : 'host')
    }
  })

  it('validates cpus, memory and accel', () => {
    expect(() => buildQemuArgv({...base, cpus: 0})).to.throw(QemuSpecError, /cpus/)
    expect(() => buildQemuArgv({...base, cpus: 1.5})).to.throw(QemuSpecError, /cpus/)
    expect(() => buildQemuArgv({...base, memoryMiB: 64})).to.throw(QemuSpecError, /memoryMiB/)
    expect(() => buildQemuArgv({...base, accel: 'xen' as never})).to.throw(QemuSpecError, /accel/)
  })

  it('exposes the root image read-only and the data disk with discard, identified by serial', () => {
    const {args} = buildQemuArgv({...base, rootImage: '/img/root.img', dataDisk: {path: '/home/u/.dlite/disk.img'}})
    const drives = all(args, '-drive')
    const devices = all(args, '-device')
    expect(drives[0]).to.include('file=/img/root.img').and.include('readonly=on').and.not.include('discard')
    expect(devices).to.include('virtio-blk-pci,drive=root,serial=dlite-root')
    expect(drives[1]).to.include('file=/home/u/.dlite/disk.img').and.include('format=raw').and.include('discard=unmap')
    expect(devices).to.include('virtio-blk-pci,drive=data,serial=dlite-data,discard=on')
  })

  it('supports qcow2 data disks and escapes commas in paths', () => {
    const {args} = buildQemuArgv({...base, dataDisk: {path: '/tmp/a,b/disk.qcow2', format: 'qcow2'}})
    expect(opt(args, '-drive')).to.include('file=/tmp/a,,b/disk.qcow2').and.include('format=qcow2')
    expect(qemuOptValue('a,b,,c')).to.equal('a,,b,,,,c')
  })

  it('passes settings by file path through fw_cfg, never their contents', () => {
    const {args} = buildQemuArgv({...base, settingsFile: '/run/dlite/settings.tar'})
    expect(opt(args, '-fw_cfg')).to.equal('name=opt/org.dlite/settings,file=/run/dlite/settings.tar')
    expect(() => buildQemuArgv({...base, settingsFile: 'relative.tar'})).to.throw(QemuSpecError, /absolute/)
    expect(() => buildQemuArgv({...base, settingsFile: '/x', settingsName: 'etc/foo'})).to.throw(QemuSpecError, /opt\//)
  })

  it('attaches a tap by inherited fd or by name, with a MAC', () => {
    const byFd = buildQemuArgv({...base, net: {type: 'tap', fd: 3, mac: '52:54:00:AA:BB:CC'}}).args
    expect(opt(byFd, '-netdev')).to.equal('tap,id=net0,fd=3')
    expect(opt(byFd, '-device')).to.equal('virtio-net-pci,netdev=net0,mac=52:54:00:aa:bb:cc')
    const byName = buildQemuArgv({...base, net: {type: 'tap', ifname: 'dlite-tap0'}}).args
    expect(opt(byName, '-netdev')).to.equal('tap,id=net0,ifname=dlite-tap0,script=no,downscript=no')
    expect(() => buildQemuArgv({...base, net: {type: 'tap', fd: 1}})).to.throw(QemuSpecError, /fd/)
    expect(() => buildQemuArgv({...base, net: {type: 'tap', ifname: 'a name with spaces'}})).to.throw(QemuSpecError, /ifname/)
    expect(() => buildQemuArgv({...base, net: {type: 'tap', fd: 3, mac: 'zz'}})).to.throw(QemuSpecError, /MAC/)
  })

  it('supports user networking with validated host forwards', () => {
    const {args} = buildQemuArgv({...base, net: {type: 'user', hostfwd: ['tcp:127.0.0.1:2222-:22']}})
    expect(opt(args, '-netdev')).to.equal('user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22')
    expect(() => buildQemuArgv({...base, net: {type: 'user', hostfwd: ['tcp:1,2']}})).to.throw(QemuSpecError, /hostfwd/)
  })

  it('sets the user network, the host alias and the resolver, and refuses anything that could smuggle options', () => {
    const {args} = buildQemuArgv({...base, net: {type: 'user', net: '10.0.2.0/24', host: '10.0.2.2', dns: '10.0.2.3', hostfwd: ['tcp:127.0.0.1:40001-10.0.2.15:2376']}})
    expect(opt(args, '-netdev')).to.equal('user,id=net0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,hostfwd=tcp:127.0.0.1:40001-10.0.2.15:2376')
    expect(() => buildQemuArgv({...base, net: {type: 'user', net: '10.0.2.0/24,smb=/'}})).to.throw(QemuSpecError, /CIDR/)
    expect(() => buildQemuArgv({...base, net: {type: 'user', host: '10.0.2.2,restrict=on'}})).to.throw(QemuSpecError, /host/)
    expect(() => buildQemuArgv({...base, net: {type: 'user', dns: 'x'}})).to.throw(QemuSpecError, /dns/)
  })

  it('shares a directory over virtiofs with shared guest memory', () => {
    const {args} = buildQemuArgv({...base, shares: [{type: 'virtiofs', socketPath: '/run/vfs.sock', tag: 'share0'}]})
    expect(all(args, '-object')).to.include('memory-backend-memfd,id=mem,size=2048M,share=on')
    expect(opt(args, '-numa')).to.equal('node,memdev=mem')
    expect(all(args, '-chardev')).to.include('socket,id=vfs0,path=/run/vfs.sock')
    // behind a root port of its own: unplugged for a save, plugged back after the resume
    expect(all(args, '-device')).to.include.members(['pcie-root-port,id=vfsport0,chassis=1', 'vhost-user-fs-pci,id=vfsdev0,bus=vfsport0,chardev=vfs0,tag=share0'])
    expect(args).to.not.include('-incoming')
  })

  it('starts a VM for a saved state paused, waiting, without the virtiofs devices the save unplugged', () => {
    const shares = [
      {type: 'virtiofs' as const, socketPath: '/run/vfs0.sock', tag: 'share0'},
      {type: '9p' as const, path: '/srv/data', tag: 'share1', readOnly: true},
      {type: 'virtiofs' as const, socketPath: '/run/vfs2.sock', tag: 'share2'},
    ]
    const cold = buildQemuArgv({...base, shares}).args
    const {args} = buildQemuArgv({...base, shares, incoming: true})
    expect(opt(args, '-incoming')).to.equal('defer')
    // paused after the load whatever the state says, until the host has checked it
    expect(args).to.include('-S')
    // the same machine otherwise: the chardevs, the root ports and the 9p device stay
    const withoutVirtiofsDevices = cold.filter((arg, i) => !arg.startsWith('vhost-user-fs-pci') && !(arg === '-device' && cold[i + 1].startsWith('vhost-user-fs-pci')))
    expect(args).to.deep.equal([...withoutVirtiofsDevices, '-S', '-incoming', 'defer'])
    expect(all(args, '-device').some((device) => device.startsWith('vhost-user-fs'))).to.equal(false)
    expect(all(args, '-device')).to.include.members(['pcie-root-port,id=vfsport0,chassis=1', 'pcie-root-port,id=vfsport2,chassis=3', 'virtio-9p-pci,fsdev=fs1,mount_tag=share1'])
    expect(virtiofsDeviceIds({shares})).to.deep.equal(['vfsdev0', 'vfsdev2'])
    expect(virtiofsDeviceAdds({shares})).to.deep.equal([
      {driver: 'vhost-user-fs-pci', id: 'vfsdev0', bus: 'vfsport0', chardev: 'vfs0', tag: 'share0'},
      {driver: 'vhost-user-fs-pci', id: 'vfsdev2', bus: 'vfsport2', chardev: 'vfs2', tag: 'share2'},
    ])
    expect(() => buildQemuArgv({...base, machine: 'microvm', shares, incoming: true})).to.throw(QemuSpecError, /cannot be resumed/)
  })

  it('falls back to 9p without shared memory', () => {
    const {args} = buildQemuArgv({...base, shares: [{type: '9p', path: '/home/u', tag: 'home'}]})
    expect(opt(args, '-fsdev')).to.equal('local,id=fs0,path=/home/u,security_model=none')
    expect(all(args, '-device')).to.include('virtio-9p-pci,fsdev=fs0,mount_tag=home')
    expect(args).to.not.include('-numa')
    expect(() => buildQemuArgv({...base, shares: [{type: '9p', path: '/x', tag: 'bad tag'}]})).to.throw(QemuSpecError, /tag/)
  })

  it('gives each shared directory a device of its own, and refuses a tag used twice', () => {
    const {args} = buildQemuArgv({...base, shares: [
      {type: 'virtiofs', socketPath: '/run/vfs0.sock', tag: 'share0'},
      {type: '9p', path: '/srv/data', tag: 'share1', readOnly: true},
    ]})
    expect(all(args, '-chardev')).to.include('socket,id=vfs0,path=/run/vfs0.sock')
    expect(opt(args, '-fsdev')).to.equal('local,id=fs1,path=/srv/data,security_model=none,readonly=on')
    expect(all(args, '-device')).to.include.members(['vhost-user-fs-pci,id=vfsdev0,bus=vfsport0,chardev=vfs0,tag=share0', 'virtio-9p-pci,fsdev=fs1,mount_tag=share1'])
    expect(() => buildQemuArgv({...base, shares: [{type: '9p', path: '/a', tag: 's'}, {type: '9p', path: '/b', tag: 's'}]})).to.throw(QemuSpecError, /twice/)
  })

  it('wires QMP, the serial log and the readiness port', () => {
    const {args} = buildQemuArgv({
      ...base,
      qmpSocket: '/run/qmp.sock',
      serialLog: '/var/log/console.log',
      readiness: {type: 'socket', path: '/run/ready.sock'},
      pidFile: '/run/qemu.pid',
    })
    const chardevs = all(args, '-chardev')
    expect(chardevs).to.include('socket,id=qmp0,path=/run/qmp.sock,server=on,wait=off')
    expect(opt(args, '-mon')).to.equal('chardev=qmp0,mode=control')
    expect(chardevs).to.include('file,id=ser0,path=/var/log/console.log')
    expect(opt(args, '-serial')).to.equal('chardev:ser0')
    expect(chardevs).to.include('socket,id=ready0,path=/run/ready.sock,server=on,wait=off')
    expect(all(args, '-device')).to.include('virtserialport,chardev=ready0,name=org.dlite.ready')
    expect(opt(args, '-pidfile')).to.equal('/run/qemu.pid')
  })

  it('disables the serial port without a log and can drop the rng', () => {
    const {args} = buildQemuArgv({...base, rng: false})
    expect(opt(args, '-serial')).to.equal('none')
    expect(args.join(' ')).to.not.include('virtio-rng')
  })

  it('gives freed guest memory back through a balloon with free page reporting, unless told not to', () => {
    expect(all(buildQemuArgv(base).args, '-device')).to.include('virtio-balloon-pci,free-page-reporting=on')
    expect(buildQemuArgv({...base, freePageReporting: false}).args.join(' ')).to.not.include('balloon')
  })

  it('builds microvm machines with ACPI and virtio-mmio devices', () => {
    const {args} = buildQemuArgv({...base, machine: 'microvm', net: {type: 'tap', fd: 4}, rootImage: '/img/root.img'})
    expect(opt(args, '-machine')).to.equal('microvm,acpi=on,pcie=off,rtc=on')
    expect(all(args, '-device')).to.include('virtio-net-device,netdev=net0')
    expect(all(args, '-device')).to.include('virtio-blk-device,drive=root,serial=dlite-root')
  })

  // macOS cannot run on this Linux machine: these pin the argv for a Mac's accelerator (hvf) as data; the aarch64
  // argv under tcg was checked against Debian's qemu-system-aarch64 7.2 here (it parses it and builds the machine)
  describe('per host: the guest architecture is the OS image\'s', () => {
    const machine = (args: string[]) => ({accel: opt(args, '-accel'), machine: opt(args, '-machine'), cpu: opt(args, '-cpu')})

    it('an Apple-silicon Mac (aarch64 image, hvf): qemu-system-aarch64, virt with GICv3, the host CPU', () => {
      const {binary, args} = buildQemuArgv({...base, arch: 'aarch64', accel: 'hvf'})
      expect(binary).to.equal('qemu-system-aarch64')
      expect(machine(args)).to.deep.equal({accel: 'hvf', machine: 'virt,gic-version=max', cpu: 'host'})
      expect(args.join(' ')).to.not.match(/highmem|pflash|-bios/)
    })

    it('aarch64 under tcg (a Mac whose hvf is unusable, an arm64 Linux without kvm, an x86_64 host): the max CPU with QEMU\'s cheap pointer authentication, multi-threaded TCG', () => {
      const {binary, args} = buildQemuArgv({...base, arch: 'aarch64', accel: 'tcg'})
      expect(binary).to.equal('qemu-system-aarch64')
      expect(machine(args)).to.deep.equal({accel: 'tcg,thread=multi,tb-size=64', machine: 'virt,gic-version=max', cpu: 'max,pauth-impdef=on'})
    })

    it('aarch64 boots the kernel directly, with PCI virtio devices, the console on serial 0 (the PL011) and no x86 machine', () => {
      const {args} = buildQemuArgv({...base, arch: 'aarch64', accel: 'hvf', rootImage: '/img/root.img', serialLog: '/h/console.log', net: {type: 'user'}})
      expect(opt(args, '-kernel')).to.equal('/img/vmlinuz')
      expect(opt(args, '-initrd')).to.equal('/img/initrd.img')
      expect(all(args, '-device')).to.include.members(['virtio-blk-pci,drive=root,serial=dlite-root', 'virtio-net-pci,netdev=net0'])
      expect(opt(args, '-serial')).to.equal('chardev:ser0')
      expect(() => buildQemuArgv({...base, arch: 'aarch64', machine: 'q35'})).to.throw(QemuSpecError, /virt/)
    })

    it('an Intel Mac (x86_64 image, hvf): qemu-system-x86_64, q35, the host CPU without 1 GiB pages (hvf does not back them)', () => {
      const {binary, args} = buildQemuArgv({...base, arch: 'x86_64', accel: 'hvf'})
      expect(binary).to.equal('qemu-system-x86_64')
      expect(machine(args)).to.deep.equal({accel: 'hvf', machine: 'q35,vmport=off,smbus=off', cpu: 'host,-pdpe1gb'})
    })

    it('Linux keeps what it had: kvm with the host CPU, tcg with max, on q35', () => {
      expect(machine(buildQemuArgv({...base, accel: 'kvm'}).args)).to.deep.equal({accel: 'kvm', machine: 'q35,vmport=off,smbus=off', cpu: 'host'})
      expect(cpuModel('aarch64', 'kvm')).to.equal('host')
      expect(cpuModel('x86_64', 'tcg')).to.equal('max')
    })

    it('refuses an architecture it has no QEMU for', () => {
      expect(() => buildQemuArgv({...base, arch: 'riscv64' as never})).to.throw(QemuSpecError, /arch must be x86_64 or aarch64/)
    })
  })

  it('never puts settings content, keys or newlines on argv', () => {
    expect(() => buildQemuArgv({...base, cmdline: 'a\nb'})).to.throw(QemuSpecError, /newline/)
    const {args} = buildQemuArgv({...base, settingsFile: '/s.tar', name: 'dlite-test'})
    expect(args.join('\n')).to.not.match(/PRIVATE KEY|BEGIN/)
    expect(opt(args, '-name')).to.equal('dlite-test,process=dlite-test')
    expect(() => buildQemuArgv({...base, name: 'bad name'})).to.throw(QemuSpecError, /name/)
  })

  it('under tcg the kernel gets no kmem or socket accounting and no cpuset controller (no allocator code patched while vCPUs run it), and no speculation mitigations (TCG does not speculate); kvm and hvf keep the image\'s line, mitigations on', () => {
    const image = 'console=ttyS0,115200 panic=-1 oops=panic'
    expect(kernelCmdlineFor(image, 'tcg')).to.equal(`${image} cgroup.memory=nokmem,nosocket cgroup_disable=cpuset mitigations=off`)
    expect(TCG_KERNEL_ARGS).to.equal('cgroup.memory=nokmem,nosocket cgroup_disable=cpuset mitigations=off')
    expect(kernelCmdlineFor(image, 'kvm')).to.equal(image)
    expect(kernelCmdlineFor(image, 'hvf')).to.equal(image)
    expect(kernelCmdlineFor(undefined, 'tcg')).to.equal(TCG_KERNEL_ARGS)
  })

  it('the seccomp sandbox when asked (libvirt\'s default set: no exec, no setuid, no obsolete or scheduler calls), none otherwise', () => {
    const {args} = buildQemuArgv({...base, sandbox: true})
    expect(opt(args, '-sandbox')).to.equal('on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny')
    expect(QEMU_SANDBOX).to.equal('on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny')
    expect(buildQemuArgv(base).args).to.not.include('-sandbox')
  })

  it('asks the binary once whether it has the sandbox (`-sandbox … -version`); a QEMU without it gets none', async () => {
    const calls: string[][] = []
    const answers = (code: number) => async (cmd: string, args: string[]) => {
      calls.push([cmd, ...args])
      return {code, stdout: '', stderr: code ? '-sandbox support is not enabled in this QEMU binary' : ''}
    }
    expect(await qemuHasSandbox('/opt/qemu-with', answers(0))).to.equal(true)
    expect(await qemuHasSandbox('/opt/qemu-without', answers(1))).to.equal(false)
    expect(calls).to.deep.equal([['/opt/qemu-with', '-sandbox', QEMU_SANDBOX, '-version'], ['/opt/qemu-without', '-sandbox', QEMU_SANDBOX, '-version']])
  })
})
