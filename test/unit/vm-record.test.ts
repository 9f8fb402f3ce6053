// The VM process record: only a live process with the recorded start time whose command line names the home's
// disk is taken for the VM, so a recycled pid is never signalled. Real processes stand in for QEMU.
import {expect} from 'chai'
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {clearVmRecord, hostProcesses, liveRecordedVm, readVmRecord, stopLeftoverVm, writeVmRecord} from '../../src/vm/vm-record.js'

describe('VM process record', function () {
  this.timeout(30_000)
  let dir: string
  let record: string
  let disk: string
  const children: ChildProcess[] = []

  /** A long-lived process whose command line names `arg`, as QEMU's names its disk. */
  function fakeVm(arg: string, ignoreTerm = false): ChildProcess {
    const script = ignoreTerm ? "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)" : 'setInterval(() => {}, 1000)'
    const child = spawn(process.execPath, ['-e', script, `file=${arg},format=raw`], {stdio: 'ignore'})
    children.push(child)
    return child
  }

  const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-vmrecord-'))
    record = join(dir, 'vm.json')
    disk = join(dir, 'disk.img')
  })
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL')
    rmSync(dir, {recursive: true, force: true})
  })

  it('records pid, start time and disk, and finds the process while it runs', async () => {
    const vm = fakeVm(disk)
    await new Promise((resolve) => vm.once('spawn', resolve))
    await writeVmRecord(record, vm.pid!, disk)
    const found = liveRecordedVm(record)
    expect(found).to.include({pid: vm.pid, disk, daemonPid: process.pid})
    expect(found!.startTime).to.equal(hostProcesses.startTime(vm.pid!))
  })

  it('a record whose pid now belongs to another process (other start time) is not the VM', async () => {
    const vm = fakeVm(disk)
    await new Promise((resolve) => vm.once('spawn', resolve))
    writeFileSync(record, JSON.stringify({pid: vm.pid, startTime: '1', disk, daemonPid: 1}))
    expect(liveRecordedVm(record)).to.equal(undefined)
    expect(await stopLeftoverVm(record, 500)).to.equal(true)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(exited(vm), 'an unrelated process is never signalled').to.equal(false)
  })

  it("a live process that does not name the home's disk is not the VM", async () => {
    const other = fakeVm(join(dir, 'another-disk.img'))
    await new Promise((resolve) => other.once('spawn', resolve))
    await writeVmRecord(record, other.pid!, disk)
    expect(liveRecordedVm(record)).to.equal(undefined)
  })

  it('stops a leftover VM with SIGTERM, and SIGKILL when it ignores that; the record goes', async () => {
    const vm = fakeVm(disk, true)
    await new Promise((resolve) => vm.once('spawn', resolve))
    await new Promise((resolve) => setTimeout(resolve, 300)) // its SIGTERM handler is in place
    await writeVmRecord(record, vm.pid!, disk)
    const gone = new Promise((resolve) => vm.once('exit', (_code, signal) => resolve(signal)))
    expect(await stopLeftoverVm(record, 500)).to.equal(true)
    expect(await gone).to.equal('SIGKILL')
    expect(existsSync(record)).to.equal(false)
  })

  it('clearVmRecord forgets only the record of that pid', async () => {
    writeFileSync(record, JSON.stringify({pid: 4242, startTime: '9', disk, daemonPid: 1}))
    clearVmRecord(record, 4343)
    expect(readVmRecord(record)?.pid).to.equal(4242)
    clearVmRecord(record, 4242)
    expect(existsSync(record)).to.equal(false)
  })

  it('a malformed record is no record', () => {
    for (const text of ['', '{', '{"pid": "1"}', '{"pid": 1, "startTime": "1", "disk": "/d", "daemonPid": 2}', 'null']) {
      writeFileSync(record, text)
      expect(readVmRecord(record), text).to.equal(undefined)
    }
  })
})
