// The QEMU backend's half of the VM seam: a MachineSpec (what the daemon says the VM is) becomes the QEMU
// command line, with nothing of the host's own (fds, logs) leaking into it and no secret on it.
import {expect} from 'chai'

import type {MachineSpec} from '../../src/vm/backend.js'
import {machineArgs, QemuBackend, qemuCommand} from '../../src/vm/qemu-backend.js'

const machine: MachineSpec = {
  name: 'dlite-abc123', accel: 'tcg', cpus: 2, memoryMiB: 2048,
  kernel: '/h/images/1/vmlinuz', initrd: '/h/images/1/initrd.img', cmdline: 'console=ttyS0', rootImage: '/h/images/1/root.img',
  dataDisk: '/h/disk.img', settingsFile: '/h/run/settings.tar',
  net: {type: 'user', net: '10.0.2.0/24', host: '10.0.2.2', dns: '10.0.2.3', hostfwd: ['tcp:127.0.0.1:40001-10.0.2.15:2376']},
  inheritFds: [], shares: [{type: '9p', path: '/home/ann', tag: 'share0'}], consoleLog: '/h/logs/console.log', log: '/h/logs/qemu.log',
  readinessLog: '/h/logs/ready.log', guestControlSocket: '/h/run/guest-control.sock',
  shareEventsSocket: '/h/run/share-events.sock',
}

describe('QEMU backend', () => {
  it('turns a machine into QEMU argv: data disk with discard, settings by path, console log, QMP, the readiness and control ports, the network and share it was given', () => {
    const {binary, args} = qemuCommand(machine, '/h/run/qmp.sock')
    const line = args.join(' ')
    expect(binary).to.equal('qemu-system-x86_64')
    expect(line).to.contain('file=/h/disk.img,if=none,id=data,format=raw').and.contain('discard=unmap')
    expect(line).to.contain('-fw_cfg name=opt/org.dlite/settings,file=/h/run/settings.tar')
    expect(line).to.contain('-chardev file,id=ser0,path=/h/logs/console.log')
    expect(line).to.contain('-chardev socket,id=qmp0,path=/h/run/qmp.sock,server=on,wait=off')
    // the guest's own channels: markers out to a file, the host's clock in through a socket
    expect(line).to.contain('-chardev file,id=ready0,path=/h/logs/ready.log -device virtserialport,chardev=ready0,name=org.dlite.ready')
    expect(line).to.contain('-chardev socket,id=control0,path=/h/run/guest-control.sock,server=on,wait=off -device virtserialport,chardev=control0,name=org.dlite.control')
    expect(line).to.contain('-chardev socket,id=files0,path=/h/run/share-events.sock,server=on,wait=off -device virtserialport,chardev=files0,name=org.dlite.files')
    expect(line).to.contain('-netdev user,id=net0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,hostfwd=tcp:127.0.0.1:40001-10.0.2.15:2376')
    expect(line).to.contain('-fsdev local,id=fs0,path=/home/ann,security_model=none')
    expect(line).to.contain('-name dlite-abc123,process=dlite-abc123')
    expect(line).to.not.contain('qemu.log')
  })

  // An Apple-silicon Mac cannot run here: this is the argv the daemon's machine becomes there (an aarch64 image,
  // hvf), recorded whole. The same argv with tcg in place of hvf was given to Debian's qemu-system-aarch64 7.2
  // with -S (the machine is built, no guest code runs): it accepted it and built a GICv3, the PL011 on ser0,
  // fw_cfg, gpio-keys (the power button) and every virtio-pci device.
  it('an aarch64 machine under hvf: qemu-system-aarch64 on virt, recorded whole', () => {
    const {binary, args} = qemuCommand({
      ...machine, arch: 'aarch64', accel: 'hvf', cmdline: 'console=ttyAMA0', shares: [{type: '9p', path: '/h/share', tag: 'share0'}],
      net: {type: 'user', net: '10.0.2.0/24', host: '10.0.2.2', dns: '10.0.2.3'},
    }, '/h/run/qmp.sock')
    expect(binary).to.equal('qemu-system-aarch64')
    expect(args).to.deep.equal([
      '-name', 'dlite-abc123,process=dlite-abc123',
      '-accel', 'hvf',
      '-machine', 'virt,gic-version=max',
      '-cpu', 'host',
      '-smp', '2',
      '-m', '2048M',
      '-nodefaults',
      '-no-user-config',
      '-display', 'none',
      '-vga', 'none',
      '-no-reboot',
      '-rtc', 'base=utc,clock=host',
      '-kernel', '/h/images/1/vmlinuz',
      '-initrd', '/h/images/1/initrd.img',
      '-append', 'console=ttyAMA0',
      '-drive', 'file=/h/images/1/root.img,if=none,id=root,format=raw,cache=writeback,aio=threads,readonly=on',
      '-device', 'virtio-blk-pci,drive=root,serial=dlite-root',
      '-drive', 'file=/h/disk.img,if=none,id=data,format=raw,cache=writeback,aio=threads,discard=unmap,detect-zeroes=unmap',
      '-device', 'virtio-blk-pci,drive=data,serial=dlite-data,discard=on',
      '-fw_cfg', 'name=opt/org.dlite/settings,file=/h/run/settings.tar',
      '-netdev', 'user,id=net0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3',
      '-device', 'virtio-net-pci,netdev=net0',
      '-fsdev', 'local,id=fs0,path=/h/share,security_model=none',
      '-device', 'virtio-9p-pci,fsdev=fs0,mount_tag=share0',
      '-chardev', 'socket,id=qmp0,path=/h/run/qmp.sock,server=on,wait=off',
      '-mon', 'chardev=qmp0,mode=control',
      '-chardev', 'file,id=ser0,path=/h/logs/console.log',
      '-serial', 'chardev:ser0',
      '-device', 'virtio-serial-pci',
      '-chardev', 'file,id=ready0,path=/h/logs/ready.log',
      '-device', 'virtserialport,chardev=ready0,name=org.dlite.ready',
      '-chardev', 'socket,id=control0,path=/h/run/guest-control.sock,server=on,wait=off',
      '-device', 'virtserialport,chardev=control0,name=org.dlite.control',
      '-chardev', 'socket,id=files0,path=/h/run/share-events.sock,server=on,wait=off',
      '-device', 'virtserialport,chardev=files0,name=org.dlite.files',
      '-object', 'rng-random,id=rng0,filename=/dev/urandom',
      '-device', 'virtio-rng-pci,rng=rng0',
      '-device', 'virtio-balloon-pci,free-page-reporting=on',
    ])
  })

  it('a saved state is bound to the machine, not to the free host ports its forwards took this time', () => {
    const first = machineArgs(qemuCommand(machine, '/h/run/qmp.sock'))
    const other = machineArgs(qemuCommand({...machine, net: {...machine.net, hostfwd: ['tcp:127.0.0.1:40999-10.0.2.15:2376']} as MachineSpec['net']}, '/h/run/qmp.sock'))
    expect(other).to.deep.equal(first)
    expect(first.join(' ')).to.contain('-netdev user,id=net0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3 ')
    expect(machineArgs(qemuCommand({...machine, memoryMiB: 4096}, '/h/run/qmp.sock'))).to.not.deep.equal(first)
  })

  it('says what it supports as data', () => {
    const backend = new QemuBackend({qmpSocket: '/h/run/qmp.sock', migrationSocket: '/h/run/migrate.sock'})
    expect(backend.capabilities).to.deep.equal({accelerators: ['kvm', 'hvf', 'tcg'], shareTransports: ['virtiofs', '9p'], networkModes: ['user', 'bridged']})
  })
})
