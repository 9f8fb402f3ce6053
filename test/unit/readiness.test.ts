// Readiness: the guest's marker on its readiness port or its console, or dockerd over TLS, whichever comes
// first, and a stop that ends every wait. dockerd is not on this machine outside a VM: a stand-in answers ping (the e2e tests boot real
// guests).
import {expect} from 'chai'
import {appendFileSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {DockerClient} from '../../src/docker/client.js'
import {Readiness} from '../../src/daemon/readiness.js'
import {rejection} from '../helpers/rejection.js'

describe('readiness', function () {
  this.timeout(10_000)
  let dir: string
  let dockerUp: boolean
  let readiness: Readiness | undefined
  let logged: string[]
  let markers: string[]
  const docker = () => ({ping: async () => dockerUp, version: async () => ({Version: '26.1.5', ApiVersion: '1.45'})}) as unknown as DockerClient

  function make(watchdogS = 30): Readiness {
    const consoleLog = join(dir, 'console.log')
    writeFileSync(consoleLog, '')
    writeFileSync(join(dir, 'ready.log'), '')
    readiness = new Readiness({
      consoleLog, previousConsoleLog: join(dir, 'console.previous.log'), portLog: join(dir, 'ready.log'), previousPortLog: join(dir, 'ready.previous.log'),
      bootTimeoutS: 30, watchdogS, docker, log: (line) => logged.push(line), onMarker: (m) => markers.push(`${m.kind} ${m.text}`),
    })
    readiness.start()
    return readiness
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-readiness-'))
    dockerUp = false
    logged = []
    markers = []
  })
  afterEach(() => {
    readiness?.stop()
    rmSync(dir, {recursive: true, force: true})
  })

  it('the console marker alone is enough', async () => {
    const r = make()
    const wait = r.waitForGuest('tcg')
    appendFileSync(join(dir, 'console.log'), 'DLITE-STAGE init 1.0\nDLITE-READY docker 20.1\n')
    expect(await wait).to.match(/^\d+\.\d s$/)
  })

  it('a lost or garbled console marker costs nothing: dockerd answering over TLS decides', async () => {
    const r = make()
    const wait = r.waitForGuest('tcg')
    appendFileSync(join(dir, 'console.log'), 'DLITE-STAGE init 1.0\nDLITE-REA\u0000DY dock[  20.1] er\n')
    dockerUp = true
    expect(await wait).to.match(/docker answered first/)
  })

  it('the readiness port decides when the console line is garbled, and docker never answers', async () => {
    const r = make()
    const wait = r.waitForGuest('tcg')
    appendFileSync(join(dir, 'console.log'), 'DLITE-REA[   20.1] br0: port 1(veth0) entered blocking state\nDY docker 20.1\n')
    appendFileSync(join(dir, 'ready.log'), 'DLITE-STAGE init 1.0\nDLITE-READY docker 20.1\n')
    expect(await wait).to.match(/^\d+\.\d s$/)
    expect(r.channelOf('READY', 'docker')).to.equal('port')
  })

  it('a restart during the first boot: the start\'s wait and the restart\'s both end at the marker (the missed-marker failure)', async () => {
    const r = make()
    const startWait = r.waitForGuest('tcg')
    const restartWait = r.waitForGuest('tcg') // QEMU exited during the boot and was launched again
    appendFileSync(join(dir, 'ready.log'), 'DLITE-READY docker 21.0\n')
    const outcome = await Promise.race([Promise.all([startWait, restartWait]).then(() => 'both'), new Promise((resolve) => setTimeout(() => resolve('start wait orphaned'), 3000))])
    expect(outcome).to.equal('both')
  })

  it('a marker both channels bring is acted on and logged once', async () => {
    const r = make()
    const wait = r.waitForGuest('tcg')
    appendFileSync(join(dir, 'ready.log'), 'DLITE-READY clock 3.0\nDLITE-READY docker 20.1\n')
    await wait
    appendFileSync(join(dir, 'console.log'), 'DLITE-READY clock 3.0\nDLITE-READY docker 20.1\n')
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(markers).to.deep.equal(['READY clock', 'READY docker'])
    expect(logged.filter((l) => l.includes('DLITE-READY docker'))).to.have.length(1)
  })

  it('a QEMU launched again during the boot gets its own silent-guest window (the routing e2e failed "no sign of life" 2 s after a relaunch)', async () => {
    const r = make(1)
    const wait = r.waitForGuest('tcg')
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
    appendFileSync(join(dir, 'console.log'), 'DLITE-STAGE initrd 2.6\n')
    await sleep(800)
    r.newBoot() // the guest panicked; the supervisor launches QEMU again, whose console starts empty
    writeFileSync(join(dir, 'console.log'), '')
    await sleep(700) // past the first boot's window, inside the new one's
    appendFileSync(join(dir, 'console.log'), 'DLITE-STAGE initrd 2.7\n')
    await sleep(600)
    appendFileSync(join(dir, 'ready.log'), 'DLITE-READY docker 20.0\n')
    expect(await wait).to.match(/^\d+\.\d s$/)
  })

  it('a relaunched QEMU that stays silent is still caught, a full window after its launch', async () => {
    const r = make(1)
    const wait = r.waitForGuest('tcg')
    await new Promise((resolve) => setTimeout(resolve, 500))
    r.newBoot()
    writeFileSync(join(dir, 'console.log'), '')
    const started = Date.now()
    const error = await rejection(wait)
    expect(error.message).to.match(/no sign of life within 1 s/)
    expect(Date.now() - started).to.be.within(800, 1500)
  })

  it('a kernel panic on the console is logged and kept for the QEMU exit that follows; the next boot starts without it', async () => {
    const r = make()
    expect(r.kernelPanic()).to.equal(undefined)
    appendFileSync(join(dir, 'console.log'), '[   41.1] Oops: 0002 [#1] PREEMPT SMP NOPTI\n[   41.2] Kernel panic - not syncing: Fatal exception\n')
    // read at once, not at the next 100 ms poll: QEMU has just exited and its last lines count
    expect(r.kernelPanic()).to.equal('Fatal exception')
    expect(logged).to.include('guest kernel panic: Fatal exception')
    r.newBoot()
    expect(r.kernelPanic()).to.equal(undefined)
  })

  it('a stop ends the wait, and a dockerd that answers afterwards (the next VM at the same address) is not taken for ready', async () => {
    const r = make()
    const wait = r.waitForGuest('tcg')
    r.stop()
    dockerUp = true
    expect((await rejection(wait)).message).to.match(/stopped before it was ready/)
    expect((await rejection(r.waitForDocker('tcp://192.168.64.2:2376'))).message).to.match(/stopped before it was ready/)
  })
})
