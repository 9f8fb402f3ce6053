import {expect} from 'chai'
import {appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describeMarker, MarkerWatcher, parseMarker, type GuestMarker} from '../../src/vm/marker-watch.js'

describe('guest console markers', () => {
  it('parses stage and ready lines with uptime, and the other kinds', () => {
    expect(parseMarker('DLITE-STAGE init 1.23')).to.deep.equal({kind: 'STAGE', text: 'init', uptime: 1.23})
    expect(parseMarker('[  3.1] DLITE-READY docker 9.50\r')).to.deep.equal({kind: 'READY', text: 'docker', uptime: 9.5})
    expect(parseMarker('DLITE-FAIL data: cannot mount /dev/vdb')).to.deep.equal({kind: 'FAIL', text: 'data: cannot mount /dev/vdb'})
    expect(parseMarker('DLITE-FSCK 0 clean')).to.deep.equal({kind: 'FSCK', text: '0 clean'})
    expect(parseMarker('Linux version 6.12')).to.equal(undefined)
  })

  it('recognises the kernel\'s panic line (an oops panics too: oops=panic), and only that line of a crash', () => {
    expect(parseMarker('[   41.207113] Kernel panic - not syncing: sysrq triggered crash\r')).to.deep.equal({kind: 'PANIC', text: 'sysrq triggered crash'})
    expect(parseMarker('[   41.2] Kernel panic - not syncing: Fatal exception')).to.deep.equal({kind: 'PANIC', text: 'Fatal exception'})
    expect(parseMarker('[   41.1] Oops: general protection fault, probably for non-canonical address')).to.equal(undefined)
    expect(describeMarker({kind: 'PANIC', text: 'Fatal exception'})).to.equal('guest kernel panic: Fatal exception')
    expect(describeMarker({kind: 'READY', text: 'docker', uptime: 9.5})).to.equal('DLITE-READY docker 9.5')
  })

  it('follows a growing log, across partial lines, from where it started', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dlite-console-'))
    const log = join(dir, 'console.log')
    try {
      writeFileSync(log, 'DLITE-STAGE old 0.1\n')
      const seen: GuestMarker[] = []
      const watcher = new MarkerWatcher(log, join(dir, 'console.previous.log'), (m) => seen.push(m))
      watcher.poll()
      expect(watcher.sawOutput).to.equal(false)
      appendFileSync(log, 'boot noise\nDLITE-STAGE init 1.0\nDLITE-REA')
      watcher.poll()
      appendFileSync(log, 'DY docker 5.0\n')
      watcher.poll()
      expect(watcher.sawOutput).to.equal(true)
      expect(seen.map((m) => `${m.kind} ${m.text}`)).to.deep.equal(['STAGE init', 'READY docker'])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('a new boot keeps the old log as console.previous.log and reads the new one from its first line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dlite-console-'))
    const log = join(dir, 'console.log')
    try {
      writeFileSync(log, 'DLITE-STAGE init 1.0\nDLITE-READY docker 30.0\nDLITE-STAGE shutdown 90.0\n')
      const seen: GuestMarker[] = []
      const watcher = new MarkerWatcher(log, join(dir, 'console.previous.log'), (m) => seen.push(m))
      watcher.startNewBoot()
      expect(readFileSync(join(dir, 'console.previous.log'), 'utf8')).to.contain('DLITE-READY docker 30.0')
      expect(existsSync(log)).to.equal(false)
      watcher.poll()
      // QEMU creates the log afresh; a new boot shorter than the old log is still read from the start
      writeFileSync(log, 'DLITE-STAGE initrd 0.5\n')
      watcher.poll()
      expect(seen.map((m) => `${m.kind} ${m.text}`)).to.deep.equal(['STAGE initrd'])
      expect(watcher.sawOutput).to.equal(true)
      watcher.startNewBoot() // a second restart replaces the kept log
      expect(readFileSync(join(dir, 'console.previous.log'), 'utf8')).to.equal('DLITE-STAGE initrd 0.5\n')
      expect(watcher.sawOutput).to.equal(false)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('guest nameservers', () => {
  it('passes on only the host nameservers a guest can reach (not loopback resolvers)', async () => {
    const {reachableNameservers} = await import('../../src/daemon/guest-settings.js')
    expect(reachableNameservers('nameserver 127.0.0.53\noptions edns0\n')).to.deep.equal([])
    expect(reachableNameservers('# x\nnameserver 10.0.0.2\nnameserver 127.0.0.1\n nameserver 1.1.1.1 \nnameserver ::1\n')).to.deep.equal(['10.0.0.2', '1.1.1.1'])
    const {guestNameservers} = await import('../../src/daemon/guest-settings.js')
    const files: Record<string, string> = {'/etc/resolv.conf': 'nameserver 127.0.0.53\n', '/run/systemd/resolve/resolv.conf': 'nameserver 10.1.1.1\n'}
    const read = async (path: string) => files[path] ?? Promise.reject(new Error('ENOENT'))
    expect(await guestNameservers(read)).to.deep.equal(['10.1.1.1'])
    files['/etc/resolv.conf'] = 'nameserver 10.2.2.2\n'
    expect(await guestNameservers(read)).to.deep.equal(['10.2.2.2'])
    delete files['/etc/resolv.conf']
    delete files['/run/systemd/resolve/resolv.conf']
    expect(await guestNameservers(read)).to.deep.equal([])
  })
})
