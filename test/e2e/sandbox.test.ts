// The sandbox harness itself: every other e2e test stands on it, so it must really isolate and really clean up.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {busyboxImageTarball} from '../helpers/busybox-image.js'
import {createNetns, runCommand, type Netns} from '../helpers/netns.js'

const namespaces = () => execFileSync('ip', ['netns', 'list'], {encoding: 'utf8'})

describe('e2e sandbox', function () {
  let ns: Netns

  before(async () => {
    ns = await createNetns('dlite-sbx')
  })

  after(async () => {
    await ns?.remove()
  })

  it('creates a namespace of its own with its own hosts file', async () => {
    expect(namespaces()).to.contain(ns.name)
    const hosts = await ns.run('cat', ['/etc/hosts'])
    expect(hosts.stdout).to.equal(readFileSync(ns.hostsFile, 'utf8'))
    expect(hosts.stdout).not.to.contain('added by dlite')
  })

  it('keeps links made inside it out of the machine namespace', async () => {
    const add = await ns.run('ip', ['link', 'add', 'dltest0', 'type', 'bridge'])
    expect(add.code, add.stderr).to.equal(0)
    expect((await ns.run('ip', ['-br', 'link', 'show', 'dltest0'])).code).to.equal(0)
    expect((await runCommand('ip', ['link', 'show', 'dltest0'])).code).not.to.equal(0)
  })

  it('removes the namespace, its /etc/netns files and its processes', async () => {
    const other = await createNetns('dlite-sbx')
    const sleeper = other.spawn('sleep', ['600'], {stdio: 'ignore'})
    await new Promise((resolve) => setTimeout(resolve, 200))
    await other.remove()
    await other.remove() // idempotent
    expect(namespaces()).not.to.contain(other.name)
    expect(existsSync(join('/etc/netns', other.name))).to.equal(false)
    await new Promise((resolve) => sleeper.exitCode !== null || sleeper.signalCode !== null ? resolve(null) : sleeper.once('exit', resolve))
    expect(sleeper.signalCode ?? sleeper.exitCode).to.not.equal(null)
  })

  it('removes namespaces when the test process is interrupted', async () => {
    const script = `
      import {createNetns} from './test/helpers/netns.ts'
      const ns = await createNetns('dlite-sig')
      console.log(ns.name)
      setInterval(() => {}, 1000)
    `
    const child = (await import('node:child_process')).spawn('node', ['--import', 'tsx', '--input-type=module', '-e', script], {stdio: ['ignore', 'pipe', 'inherit']})
    const name: string = await new Promise((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())))
    expect(namespaces()).to.contain(name)
    child.kill('SIGINT')
    await new Promise((resolve) => child.once('exit', resolve))
    expect(namespaces()).not.to.contain(name)
  })
})

describe('local busybox image', () => {
  it('builds a tarball with a static busybox and its applets for docker import', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dlite-bb-'))
    try {
      const tarball = await busyboxImageTarball(dir)
      const listing = execFileSync('tar', ['-tvf', tarball], {encoding: 'utf8'})
      expect(listing).to.match(/\.\/bin\/busybox\n/)
      expect(listing).to.match(/\.\/bin\/sh -> busybox/)
      expect(listing).to.match(/\.\/bin\/httpd -> busybox/)
      expect(await busyboxImageTarball(dir)).to.equal(tarball) // cached
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
