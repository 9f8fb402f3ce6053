// Readiness: the guest's console marker or dockerd over TLS, whichever comes first, and a stop that ends
// every wait. dockerd is not on this machine outside a VM: a stand-in answers ping (the e2e tests boot real
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
  const docker = () => ({ping: async () => dockerUp, version: async () => ({Version: '26.1.5', ApiVersion: '1.45'})}) as unknown as DockerClient

  function make(): Readiness {
    const consoleLog = join(dir, 'console.log')
    writeFileSync(consoleLog, '')
    readiness = new Readiness({consoleLog, previousConsoleLog: join(dir, 'console.previous.log'), bootTimeoutS: 30, watchdogS: 30, docker, log: () => {}})
    readiness.start()
    return readiness
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-readiness-'))
    dockerUp = false
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

  it('a stop ends the wait, and a dockerd that answers afterwards (the next VM at the same address) is not taken for ready', async () => {
    const r = make()
    const wait = r.waitForGuest('tcg')
    r.stop()
    dockerUp = true
    expect((await rejection(wait)).message).to.match(/stopped before it was ready/)
    expect((await rejection(r.waitForDocker('tcp://192.168.64.2:2376'))).message).to.match(/stopped before it was ready/)
  })
})
