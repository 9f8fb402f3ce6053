// A child started to die with its parent really dies when the parent is killed with SIGKILL.
import {expect} from 'chai'
import {spawn} from 'node:child_process'

import {dieWithParent, parentDeathHelper} from '../../src/host/parent-death.js'
import {hostProcesses} from '../../src/vm/vm-record.js'

describe('parent-death signal', function () {
  this.timeout(20_000)

  it('wraps the command in setpriv --pdeathsig TERM where it can, and leaves it alone where it cannot', () => {
    expect(dieWithParent({binary: 'qemu', args: ['-m', '1']}, '/usr/bin/setpriv')).to.deep.equal({
      binary: '/usr/bin/setpriv', args: ['--pdeathsig', 'TERM', '--', 'qemu', '-m', '1'],
    })
    expect(dieWithParent({binary: 'qemu', args: ['-m', '1']}, null)).to.deep.equal({binary: 'qemu', args: ['-m', '1']})
  })

  it('a grandchild started through it is gone once its parent is killed with SIGKILL (Linux)', async function () {
    if (!parentDeathHelper()) this.skip()
    // the parent: spawns a long sleeper the way the daemon spawns QEMU, prints its pid, then waits
    const {binary, args} = dieWithParent({binary: 'sleep', args: ['300']})
    const parentScript = `const c = require('node:child_process').spawn(${JSON.stringify(binary)}, ${JSON.stringify(args)}, {stdio: 'ignore'}); c.on('spawn', () => console.log(c.pid)); setInterval(() => {}, 1000)`
    const parent = spawn(process.execPath, ['-e', parentScript], {stdio: ['ignore', 'pipe', 'inherit']})
    const pid = await new Promise<number>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(hostProcesses.commandLine(pid)).to.match(/^sleep 300/)
    parent.kill('SIGKILL')
    const deadline = Date.now() + 5000
    while (hostProcesses.startTime(pid) !== undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    // reaped by init, or at worst a zombie: not running
    const state = hostProcesses.startTime(pid) === undefined ? 'gone' : 'zombie?'
    expect(state).to.equal('gone')
  })
})
