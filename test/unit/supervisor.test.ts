import {expect} from 'chai'
import {spawn} from 'node:child_process'

import {describeExit, Supervisor} from '../../src/vm/supervisor.js'

const fast = {maxRestarts: 2, backoffMs: [10, 20], windowMs: 60_000}
const crasher = async () => spawn(process.execPath, ['-e', 'process.exit(3)'])
const sleeper = async () => spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'])

describe('supervisor', () => {
  it('restarts a crashing child with backoff, then gives up and says why', async () => {
    const supervisor = new Supervisor(crasher, fast)
    const restarts: number[] = []
    supervisor.on('restart', (n: number) => restarts.push(n))
    const reason = await new Promise<string>((resolve) => {
      supervisor.on('gave-up', resolve)
      void supervisor.start()
    })
    expect(restarts).to.deep.equal([1, 2])
    expect(reason).to.equal('QEMU exited with code 3; gave up after 2 restarts')
  })

  it('brings a killed child back', async () => {
    const supervisor = new Supervisor(sleeper, fast)
    const first = await supervisor.start()
    const second = await new Promise<unknown>((resolve) => {
      supervisor.once('restart', () => supervisor.once('spawn', resolve))
      first.kill('SIGKILL')
    })
    expect(second).to.not.equal(first)
    supervisor.expectExit()
    supervisor.current!.kill('SIGTERM')
    await supervisor.waitForExit()
  })

  it('does not restart an intended exit', async () => {
    const supervisor = new Supervisor(sleeper, fast)
    let restarted = false
    supervisor.on('restart', () => (restarted = true))
    const child = await supervisor.start()
    const stopped = new Promise((resolve) => supervisor.once('stopped', resolve))
    supervisor.expectExit()
    child.kill('SIGTERM')
    await stopped
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(restarted).to.equal(false)
  })

  it('describes exits', () => {
    expect(describeExit({code: null, signal: 'SIGKILL'})).to.equal('killed by SIGKILL')
    expect(describeExit({code: 1, signal: null})).to.equal('exited with code 1')
  })
})
