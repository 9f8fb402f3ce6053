// Calls the real dlite-native addon. The probe runs in this process (it only
// creates a throwaway KVM VM, never QEMU). Every tap device is created inside
// a private network namespace (DESIGN.md §5) by a child process under
// `ip netns exec`, and the namespace is removed afterwards, also on failure.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {cpSync, existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {chooseAccelerator} from '../../src/host/accelerator.js'
import {decideAccelerator} from '../../src/host/accelerator-facts.js'
import {loadNative, type ProbeResult} from '../../src/host/native.js'
import {createNetns, runCommand, type Netns} from '../helpers/netns.js'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const isLinux = process.platform === 'linux'
const isRoot = process.getuid?.() === 0

function moduleLoaded(name: string): boolean {
  return existsSync(join('/sys/module', name))
}

describe('dlite-native (real addon)', function () {
  this.timeout(30_000)

  describe('loading', () => {
    it('loads through src/host and from ESM with named exports', async () => {
      const addon = loadNative()
      expect(addon.probe).to.be.a('function')
      expect(addon.openTap).to.be.a('function')
      expect(addon.closeFd).to.be.a('function')
      const esm = await import('dlite-native')
      expect(esm.probe).to.equal(addon.probe)
      expect(addon.platform).to.equal(process.platform === 'darwin' ? 'darwin' : 'linux')
    })

    it("the package's own loader says the addon is not built, and how to fix it", () => {
      const dir = mkdtempSync(join(tmpdir(), 'dlite-native-unbuilt-'))
      try {
        cpSync(join(repo, 'native', 'index.js'), join(dir, 'index.js'))
        const require = createRequire(join(dir, 'index.js'))
        let error: (Error & {code?: string}) | undefined
        try {
          require(join(dir, 'index.js'))
        } catch (e) {
          error = e as Error & {code?: string}
        }
        expect(error?.code).to.equal('DLITE_NATIVE_MISSING')
        expect(error?.message).to.include('npm rebuild dlite-native')
      } finally {
        rmSync(dir, {recursive: true, force: true})
      }
    })
  })

  describe('probe()', () => {
    let probe: ProbeResult
    let elapsedMs: number

    before(() => {
      const start = performance.now()
      probe = loadNative().probe()
      elapsedMs = performance.now() - start
    })

    it('is quick: well under a second, self-test included', () => {
      expect(elapsedMs).to.be.below(1000)
      expect(probe.durationMs).to.be.below(1000)
    })

    it('reports platform, arch and device nodes as the filesystem has them', () => {
      expect(probe.platform).to.equal(process.platform)
      expect(probe.arch).to.equal(process.arch)
      expect(probe.kernelRelease).to.equal(execFileSync('uname', ['-r'], {encoding: 'utf8'}).trim())
      expect(probe.devices).to.deep.equal({
        kvm: existsSync('/dev/kvm'),
        netTun: existsSync('/dev/net/tun'),
        vhostNet: existsSync('/dev/vhost-net'),
        vhostVsock: existsSync('/dev/vhost-vsock'),
      })
      expect(probe.accelerators.hvf).to.equal(null) // compiled only on macOS
    })

    it('reports KVM facts consistent with the kernel', function () {
      if (!isLinux) this.skip()
      const kvm = probe.accelerators.kvm!
      expect(kvm.present).to.equal(existsSync('/dev/kvm'))
      expect(kvm.reason).to.be.a('string').with.length.above(20)
      if (!kvm.present) {
        expect(kvm.usable).to.equal(false)
        return
      }
      if (kvm.accessible) {
        expect(kvm.apiVersion).to.equal(12)
        expect(kvm.capabilities.USER_MEMORY).to.be.above(0)
        expect(kvm.missingCapabilities).to.deep.equal(
          ['USER_MEMORY', 'DESTROY_MEMORY_REGION_WORKS', 'JOIN_MEMORY_REGIONS_WORKS', 'SET_TSS_ADDR', 'EXT_CPUID', 'MP_STATE']
            .filter((c) => !(kvm.capabilities[c] > 0)),
        )
      }
      const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1].split(/\s+/) ?? []
      expect(kvm.cpuVirtFlag).to.equal(flags.includes('vmx') ? 'vmx' : flags.includes('svm') ? 'svm' : null)
      if (moduleLoaded('kvm_intel') || moduleLoaded('kvm_amd')) {
        expect(kvm.backendKind).to.equal('hardware')
      } else if (moduleLoaded('kvm_pvm')) {
        expect(kvm).to.include({backend: 'kvm_pvm', backendKind: 'paravirtual'})
      }
    })

    it('decides usability from the self-test, which never overruns its deadline', function () {
      const kvm = probe.accelerators.kvm
      if (!kvm?.accessible || process.arch !== 'x64') this.skip()
      const t = kvm!.selfTest!
      expect(t).to.be.an('object')
      expect(t.durationMs).to.be.below(1000)
      expect(kvm!.usable).to.equal(t.ok)
      if (t.ok) {
        expect(t.stage).to.equal('done')
        expect(t.kernelLoopRate).to.be.above(20e6)
        expect(kvm!.reason).to.match(/^KVM works/)
      } else {
        expect(kvm!.reason).to.match(/^\/dev\/kvm is present but/)
        expect(kvm!.reason).to.match(/cannot run stock guests|self-test VM failed/)
      }
    })

    it('on a paravirtual (PVM) backend: present, not usable for stock guests, with the measured reason', function () {
      if (!moduleLoaded('kvm_pvm') || moduleLoaded('kvm_intel') || moduleLoaded('kvm_amd')) this.skip()
      const kvm = probe.accelerators.kvm!
      expect(kvm).to.include({present: true, usable: false})
      const t = kvm.selfTest!
      expect(t.error).to.equal(null)
      expect(t.stage).to.equal('done') // walked real -> protected -> long mode fine...
      expect(t.kernelLoopRate).to.be.a('number')
      expect(t.userLoopRate! / t.kernelLoopRate!).to.be.above(20) // ...but emulates kernel-mode code
      expect(kvm.reason).to.include('kvm_pvm').and.to.include('cannot run stock guests').and.to.include('slower')
    })

    it('with the self-test off, judges by the vendor module alone', function () {
      if (!isLinux) this.skip()
      const quick = loadNative().probe({selfTest: false})
      const kvm = quick.accelerators.kvm!
      expect(kvm.selfTest).to.equal(null)
      if (kvm.accessible && !kvm.missingCapabilities.length && kvm.apiVersion === 12) {
        expect(kvm.usable).to.equal(kvm.backendKind === 'hardware')
        expect(kvm.reason).to.include('self-test was skipped')
      }
    })

    it('validates its options', () => {
      expect(() => loadNative().probe({selfTestTimeoutMs: 5})).to.throw(RangeError, /between 100 and 10000/)
    })

    it('feeds the accelerator decision: tcg with a reason whenever kvm is not usable', async () => {
      const decision = chooseAccelerator(probe)
      const kvm = probe.accelerators.kvm
      expect(decision.accelerator).to.equal(kvm?.usable ? 'kvm' : 'tcg')
      if (kvm && !kvm.usable) expect(decision.reason).to.include(kvm.reason)
      const verdict = await decideAccelerator('auto')
      expect(verdict.accelerator).to.equal(decision.accelerator)
      expect(verdict.addonError).to.equal(undefined)
    })
  })

  describe('openTap() and closeFd()', function () {
    let ns: Netns | undefined

    before(async function () {
      if (!isLinux || !isRoot || !existsSync('/dev/net/tun')) this.skip()
      ns = await createNetns('dlite-native')
    })

    after(async () => {
      await ns?.remove()
      if (ns) expect(execFileSync('ip', ['netns', 'list'], {encoding: 'utf8'})).to.not.include(ns.name)
    })

    /** Runs `script` in node inside the namespace (optionally wrapped), returns its JSON output. */
    async function inNetns(script: string, wrap: string[] = []): Promise<Record<string, unknown>> {
      const code = `const m = require('dlite-native'); const fs = require('node:fs');
        const out = {}; const err = (f) => { try { f(); return null } catch (e) { return {code: e.code, syscall: e.syscall, message: e.message} } };
        ${script}
        process.stdout.write(JSON.stringify(out))`
      const r = await ns!.run(wrap[0] ?? process.execPath, wrap.length ? [...wrap.slice(1), process.execPath, '-e', code] : ['-e', code], {
        cwd: repo,
        timeoutMs: 20_000,
      })
      expect(r.code, r.stderr).to.equal(0)
      return JSON.parse(r.stdout) as Record<string, unknown>
    }

    it('creates a tap (IFF_TAP|IFF_NO_PI), reports EBUSY on a second attach, and it vanishes on close', async () => {
      const out = await inNetns(`
        const t = m.openTap('dltap0');
        out.tap = t;
        out.flags = fs.readFileSync('/sys/class/net/dltap0/tun_flags', 'utf8').trim();
        out.fdIsOpen = fs.existsSync('/proc/self/fd/' + t.fd);
        out.busy = err(() => m.openTap('dltap0'));
        m.closeFd(t.fd);
        out.afterClose = fs.existsSync('/sys/class/net/dltap0');
        out.closeAgain = err(() => m.closeFd(t.fd));`)
      expect(out.tap).to.include({name: 'dltap0', vnetHdr: false, persist: false})
      expect((out.tap as {fd: number}).fd).to.be.a('number').above(2)
      expect(out.flags).to.equal('0x1002')
      expect(out.fdIsOpen).to.equal(true)
      expect(out.busy).to.include({code: 'EBUSY', syscall: 'ioctl(TUNSETIFF)'})
      expect((out.busy as {message: string}).message).to.include('busy').and.to.include('another tap name')
      expect(out.afterClose).to.equal(false)
      expect(out.closeAgain).to.include({code: 'EBADF'})
    })

    it('supports vnet headers, persistence and a %d name pattern', async () => {
      const out = await inNetns(`
        const v = m.openTap('dlvnet%d', {vnetHdr: true});
        out.vnet = v;
        out.vnetFlags = fs.readFileSync('/sys/class/net/' + v.name + '/tun_flags', 'utf8').trim();
        m.closeFd(v.fd);
        const p = m.openTap('dlpersist0', {persist: true});
        m.closeFd(p.fd);
        out.persisted = fs.existsSync('/sys/class/net/dlpersist0');
        const again = m.openTap('dlpersist0');
        out.reattached = again.name;
        m.closeFd(again.fd);
        require('node:child_process').execFileSync('ip', ['link', 'delete', 'dlpersist0']);
        out.deleted = !fs.existsSync('/sys/class/net/dlpersist0');`)
      expect(out.vnet).to.include({name: 'dlvnet0', vnetHdr: true})
      expect(Number(out.vnetFlags) & 0x4000).to.equal(0x4000)
      expect(out).to.include({persisted: true, reattached: 'dlpersist0', deleted: true})
    })

    it('refuses a name taken by a non-tap interface with EINVAL naming the fix', async () => {
      expect((await ns!.run('ip', ['tuntap', 'add', 'dev', 'dltun0', 'mode', 'tun'])).code).to.equal(0)
      const out = await inNetns(`out.e = err(() => m.openTap('dltun0'));`)
      expect(out.e).to.include({code: 'EINVAL'})
      expect((out.e as {message: string}).message).to.include('ip link delete dltun0')
    })

    it('without CAP_NET_ADMIN: EPERM naming sudo / ip tuntap', async () => {
      const out = await inNetns(`out.e = err(() => m.openTap('dltap1'));`, [
        'setpriv', '--inh-caps=-net_admin', '--bounding-set=-net_admin',
      ])
      expect(out.e).to.include({code: 'EPERM', syscall: 'ioctl(TUNSETIFF)'})
      expect((out.e as {message: string}).message).to.include('CAP_NET_ADMIN').and.to.include('ip tuntap add dev dltap1')
    })

    it('without /dev/net/tun (hidden in a private mount namespace): ENOENT naming modprobe tun', async () => {
      const code = `const m = require('dlite-native'); try { m.openTap('dltap2'); process.stdout.write('{}') }
        catch (e) { process.stdout.write(JSON.stringify({code: e.code, syscall: e.syscall, message: e.message})) }`
      const r = await ns!.run('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs none /dev/net && exec "$0" -e "$1"', process.execPath, code], {
        cwd: repo,
        timeoutMs: 20_000,
      })
      expect(r.code, r.stderr).to.equal(0)
      const e = JSON.parse(r.stdout) as {code: string; syscall: string; message: string}
      expect(e).to.include({code: 'ENOENT', syscall: 'open'})
      expect(e.message).to.include('/dev/net/tun is missing').and.to.include('modprobe tun')
      expect(existsSync('/dev/net/tun')).to.equal(true) // the host's node was never touched
    })

    it('rejects bad names before touching the kernel', () => {
      const {openTap} = loadNative()
      for (const bad of ['', 'a'.repeat(16), 'has space', 'a/b', 'a:b']) {
        expect(() => openTap(bad), bad).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_VALUE')
      }
      expect(() => openTap(42 as unknown as string)).to.throw(TypeError, /must be a string/)
    })

    it('leaves no tap device in the namespace', async () => {
      const r = await runCommand('ip', ['-n', ns!.name, '-o', 'link', 'show'])
      expect(r.stdout).to.not.match(/dltap|dlvnet|dlpersist/)
    })
  })
})

describe('dlite-native peerCredentials (real addon)', () => {
  it('names the process at the other end of a unix socket', async () => {
    const {createServer, connect} = await import('node:net')
    const dir = mkdtempSync(join(tmpdir(), 'dlite-peercred-'))
    const path = join(dir, 'peer.sock')
    try {
      const seen = await new Promise<{pid: number | null; uid: number; gid: number}>((resolve, reject) => {
        const server = createServer((socket) => {
          const fd = (socket as unknown as {_handle: {fd: number}})._handle.fd
          try {
            resolve(loadNative().peerCredentials(fd))
          } catch (error) {
            reject(error)
          }
          socket.destroy()
          server.close()
        })
        server.listen(path, () => connect(path).on('error', () => {}))
      })
      expect(seen.uid).to.equal(process.getuid!())
      expect(seen.gid).to.equal(process.getgid!())
      if (isLinux) expect(seen.pid).to.equal(process.pid)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('fails clearly on something that is not a socket', () => {
    expect(() => loadNative().peerCredentials(0)).to.throw(/peerCredentials/)
  })
})
