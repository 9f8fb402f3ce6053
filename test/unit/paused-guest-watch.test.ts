// A guest QEMU paused on a failed write (the host disk full): status says so, and it goes on by itself once the
// host has room again — not before.
import {expect} from 'chai'
import {EventEmitter} from 'node:events'

import {PausedGuestWatch} from '../../src/daemon/paused-guest-watch.js'
import type {VmInstance} from '../../src/vm/backend.js'

describe('paused guest watch', () => {
  function fakeVm(initial: string) {
    const vm = Object.assign(new EventEmitter(), {
      pid: 1234 as number | undefined,
      status: initial,
      resumes: 0,
      async runState() {
        return {running: vm.status === 'running', status: vm.status}
      },
      async resume() {
        vm.resumes++
        vm.status = 'running'
      },
    })
    return vm
  }

  it('reports the pause with the fix, waits for room, then resumes and clears the report', async () => {
    const vm = fakeVm('io-error')
    let free = 10 * 1024 ** 2
    const changes: Array<string | undefined> = []
    const watch = new PausedGuestWatch({
      vm: () => vm as unknown as VmInstance, disk: '/home/u/.dlite/disk.img', log: () => {},
      onChange: (why) => changes.push(why), freeBytes: async () => free,
    })
    await watch.check()
    expect(changes).to.have.length(1)
    expect(changes[0]).to.match(/host disk that holds \/home\/u\/\.dlite is full; free at least 256 MiB/)
    await watch.check()
    expect(vm.resumes, 'no room yet: still paused').to.equal(0)
    expect(changes).to.have.length(1)
    free = 1024 ** 3
    await watch.check()
    expect(vm.resumes).to.equal(1)
    expect(changes).to.deep.equal([changes[0], undefined])
    await watch.check()
    expect(changes).to.have.length(2)
  })

  it('a running guest is left alone, and a paused one resumed by someone else is reported running', async () => {
    const vm = fakeVm('running')
    const changes: Array<string | undefined> = []
    const watch = new PausedGuestWatch({vm: () => vm as unknown as VmInstance, disk: '/d/disk.img', log: () => {}, onChange: (w) => changes.push(w), freeBytes: async () => 0})
    await watch.check()
    expect(changes).to.deep.equal([])
    vm.status = 'io-error'
    await watch.check()
    vm.status = 'running'
    await watch.check()
    expect(changes.map(Boolean)).to.deep.equal([true, false])
    expect(vm.resumes).to.equal(0)
  })
})
