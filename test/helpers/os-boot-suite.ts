// The guest OS boot smoke test, shared by the x86_64 image's e2e (test/e2e/os-boot.test.ts) and the arm64
// one's (test/e2e/os-boot-arm64.test.ts): inside a private network namespace (DESIGN.md §5) it boots an image
// with QEMU (TCG here), reaches dockerd over TLS with a client certificate, imports and runs a local image,
// checks the shares and powers off with the power button (QEMU must exit by itself within 30 s). The full
// variant also checks discard, ssh with a pinned host key, idle memory and a second boot (the image is still
// there and the data disk needed no recovery).
//
// Env: DLITE_TEST_ACCEL (default tcg: the nested KVM here hangs stock kernels),
//      DLITE_TEST_KEEP=1 keeps the work directory,
//      DLITE_TEST_DOCKER_ARGS extra dockerd arguments (e.g. --iptables=false).
import {execFileSync, spawnSync, type ChildProcess} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

import {expect} from 'chai'

import {buildSettingsBundle, writeSettingsBundle, type GuestSettings} from '../../src/guest/settings.js'
import {createTlsBundle, writeTlsFiles, type TlsPaths} from '../../src/guest/tls.js'
import {buildQemuArgv, kernelCmdlineFor, type GuestArch} from '../../src/hypervisor/qemu-argv.js'
import {busyboxImageTarball} from './busybox-image.js'
import {createNetns, type Netns, type RunResult} from './netns.js'
import {rssMiB} from './proc.js'

export interface OsBootSuite {
  /** the mocha describe title */
  title: string
  /** the guest arch: QEMU's binary and machine (buildQemuArgv) */
  arch: GuestArch
  /** the image's directory (its manifest.json) */
  dist: string
  /** no image in dist: build it with os/build.js and these arguments, or skip the suite with this message */
  missing: {build: string[]} | {skip: string}
  /** the shares' transports, one directory each (share0, share1, ...; at most one virtiofs) */
  shares: ('virtiofs' | '9p')[]
  /** the busybox binary of the image the containers run (default: the host's static busybox) */
  busybox?: (work: string, dist: string) => string
  /** also discard, ssh, idle memory and a second boot */
  full: boolean
  /** the boot's deadline for DLITE-READY docker */
  bootTimeoutMs?: number
}

const repo = path.resolve(import.meta.dirname, '../..')
const accel = (process.env.DLITE_TEST_ACCEL ?? 'tcg') as 'tcg' | 'kvm'
const VM_IP = '192.168.64.2'
const HOST_IP = '192.168.64.1'
const HOSTNAME = 'local.docker'
const MEMORY_MIB = 2048

interface Manifest {
  version: string
  arch: string
  kernel: {version: string; cmdline: string}
  docker: {version: string}
  files: {name: string; role: string; size: number; sha256: string}[]
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

async function waitFor<T>(what: string, timeoutMs: number, fn: () => T | undefined | Promise<T | undefined>, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== null && (v as unknown) !== false) return v
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

/** One QMP command over the unix socket (the test's own tiny client). */
async function qmp(socketPath: string, command: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath)
    let buf = ''
    let step = 0
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new Error(`QMP ${command}: no answer`))
    }, 10_000)
    sock.setEncoding('utf8')
    sock.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    sock.on('data', (d: string) => {
      buf += d
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim()
        buf = buf.slice(i + 1)
        if (!line) continue
        const msg = JSON.parse(line) as Record<string, unknown>
        if (msg.event) continue
        if (step === 0 && msg.QMP) {
          step = 1
          sock.write('{"execute":"qmp_capabilities"}\n')
        } else if (step === 1 && 'return' in msg) {
          step = 2
          sock.write(JSON.stringify({execute: command}) + '\n')
        } else if (step === 2) {
          clearTimeout(timer)
          sock.end()
          if ('error' in msg) reject(new Error(JSON.stringify(msg.error)))
          else resolve(msg.return)
        }
      }
    })
  })
}


export function describeOsBoot(suite: OsBootSuite): void {
  describe(suite.title, function () {
    this.timeout(900_000)
    const {dist} = suite
    const log = (msg: string) => process.stderr.write(`      [os-boot ${suite.arch}] ${msg}\n`)

    let ns: Netns | undefined
    let work: string
    let manifest: Manifest
    let tls: TlsPaths
    let qemu: ChildProcess | undefined
    let qemuExited: Promise<number | null> | undefined
    let virtiofsd: ChildProcess | undefined
    let bootCount = 0
    let sshKey: string
    let knownHosts: string
    // the host directories shared, one per suite.shares entry
    let shareDirs: string[]
    let consoleLog = ''
    let tarball: string

    const file = (name: string) => path.join(work, name)

    async function docker(args: string[], opts: {input?: string; timeoutMs?: number; tls?: boolean} = {}): Promise<RunResult> {
      const base = opts.tls === false
        ? ['-H', `tcp://${VM_IP}:2376`]
        : ['--tlsverify', '--tlscacert', tls.ca, '--tlscert', tls.clientCert, '--tlskey', tls.clientKey, '-H', `tcp://${VM_IP}:2376`]
      return ns!.run('docker', [...base, ...args], {
        timeoutMs: opts.timeoutMs ?? 120_000,
        input: opts.input,
        env: {...process.env, DOCKER_CONFIG: file('docker-config'), DOCKER_CONTEXT: '', DOCKER_HOST: ''},
      })
    }

    async function ssh(cmd: string): Promise<RunResult> {
      return ns!.run('ssh', [
        '-i', sshKey, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes',
        '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'GlobalKnownHostsFile=/dev/null',
        `docker@${VM_IP}`, cmd,
      ], {timeoutMs: 60_000})
    }

    async function boot(): Promise<number> {
      bootCount++
      consoleLog = file(`console-${bootCount}.log`)
      const readyLog = file(`ready-${bootCount}.log`)
      // virtiofsd (one per boot; it exits when QEMU disconnects)
      const vfsSock = file('virtiofs.sock')
      const vfsIndex = suite.shares.indexOf('virtiofs')
      if (vfsIndex >= 0) {
        rmSync(vfsSock, {force: true})
        virtiofsd = ns!.spawn('/usr/lib/qemu/virtiofsd', [`--socket-path=${vfsSock}`, '-o', `source=${shareDirs[vfsIndex]}`, '-o', 'cache=auto'], {stdio: 'ignore'})
        await waitFor('virtiofsd socket', 10_000, () => existsSync(vfsSock))
      }

      const get = (role: string) => path.join(dist, manifest.files.find((f) => f.role === role)!.name)
      const cmd = buildQemuArgv({
        arch: suite.arch,
        accel,
        cpus: 2,
        memoryMiB: MEMORY_MIB,
        kernel: get('kernel'),
        initrd: get('initrd'),
        cmdline: kernelCmdlineFor(manifest.kernel.cmdline, accel), // as the daemon boots it
        rootImage: get('root'),
        dataDisk: {path: file('data.img'), format: 'raw'},
        settingsFile: file('settings.tar'),
        net: {type: 'tap', ifname: 'tap0', mac: '52:54:00:64:00:02'},
        shares: suite.shares.map((type, i) => type === 'virtiofs'
          ? {type, socketPath: vfsSock, tag: `share${i}`}
          : {type, path: shareDirs[i], tag: `share${i}`}),
        qmpSocket: file('qmp.sock'),
        serialLog: consoleLog,
        readiness: {type: 'file', path: readyLog},
        name: 'dlite-os-test',
      })
      log(`boot ${bootCount}: ${cmd.binary} ${cmd.args.join(' ')}`)
      const t0 = Date.now()
      const child = ns!.spawn(cmd.binary, cmd.args, {stdio: ['ignore', 'ignore', 'pipe']})
      let stderr = ''
      child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d))
      qemu = child
      qemuExited = new Promise((resolve) => child.on('exit', (code) => resolve(code)))
      let exited = false
      void qemuExited.then(() => (exited = true))
      await waitFor('DLITE-READY docker on the readiness port', suite.bootTimeoutMs ?? 300_000, () => {
        if (exited) throw new Error(`QEMU exited early: ${stderr}\n--- console ---\n${readText(consoleLog).slice(-3000)}`)
        const c = readText(consoleLog)
        const fail = c.match(/DLITE-FAIL .*/)
        if (fail) throw new Error(`guest reported ${fail[0]}\n--- console ---\n${c.slice(-3000)}`)
        return readText(readyLog).includes('DLITE-READY docker') || undefined
      }, 100)
      const seconds = (Date.now() - t0) / 1000
      log(`boot ${bootCount}: docker ready ${seconds.toFixed(1)} s after QEMU started`)
      log(`boot ${bootCount} stages: ${readText(consoleLog).split('\n').filter((l) => l.startsWith('DLITE-')).join(' | ')}`)
      return seconds
    }

    async function powerOff(): Promise<number> {
      const t0 = Date.now()
      await qmp(file('qmp.sock'), 'system_powerdown')
      const code = await Promise.race([qemuExited!, sleep(30_000).then(() => 'timeout' as const)])
      const seconds = (Date.now() - t0) / 1000
      if (code === 'timeout') {
        qemu?.kill('SIGKILL')
        throw new Error(`QEMU did not exit within 30 s of system_powerdown\n--- console ---\n${readText(consoleLog).slice(-3000)}`)
      }
      log(`power-off: QEMU exited (code ${code}) ${seconds.toFixed(1)} s after system_powerdown`)
      qemu = undefined
      virtiofsd?.kill()
      return seconds
    }

    before(async function () {
      if (process.getuid?.() !== 0) this.skip() // the sandbox (ip netns) needs root
      const binary = `qemu-system-${suite.arch}`
      if (spawnSync(binary, ['--version'], {stdio: 'ignore'}).status !== 0) {
        log(`SKIPPED: no ${binary} here (scripts/setup.sh installs it)`)
        this.skip()
      }
      if (!existsSync(path.join(dist, 'manifest.json'))) {
        if ('skip' in suite.missing) {
          log(`SKIPPED: no image in ${dist}: ${suite.missing.skip}`)
          this.skip()
        }
        log(`no image in ${dist}: running node os/build.js (cached after the first time)`)
        execFileSync(process.execPath, [path.join(repo, 'os/build.js'), ...suite.missing.build, '--out', dist], {stdio: 'inherit'})
      }
      manifest = JSON.parse(readFileSync(path.join(dist, 'manifest.json'), 'utf8')) as Manifest
      expect(manifest.arch, `${dist}/manifest.json`).to.equal(suite.arch)
      work = mkdtempSync(path.join(os.tmpdir(), 'dlite-os-boot-'))
      if (suite.shares.filter((t) => t === 'virtiofs').length > 1) throw new Error('os-boot-suite: at most one virtiofs share')
      shareDirs = suite.shares.map((_, i) => path.join(work, i === 0 ? 'share' : `share${i}`))
      for (const [i, dir] of shareDirs.entries()) {
        mkdirSync(dir)
        writeFileSync(path.join(dir, 'hello.txt'), `hello from the host${i === 0 ? '' : ` (share${i})`}\n`)
      }
      mkdirSync(file('docker-config'))

      ns = await createNetns('dlite-os')
      const sh = async (cmd: string) => {
        const r = await ns!.run('sh', ['-ec', cmd])
        if (r.code !== 0) throw new Error(`${cmd}: ${r.stderr}`)
      }
      await sh(`ip link add br0 type bridge && ip addr add ${HOST_IP}/24 dev br0 && ip link set br0 up
        ip tuntap add dev tap0 mode tap && ip link set tap0 master br0 && ip link set tap0 up`)

      tls = await writeTlsFiles(file('tls'), await createTlsBundle({serverNames: [VM_IP, HOSTNAME]}))
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dlite-test', '-f', file('id_ed25519')])
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dlite-host', '-f', file('ssh_host_ed25519_key')])
      sshKey = file('id_ed25519')
      knownHosts = file('known_hosts')
      writeFileSync(knownHosts, `${VM_IP} ${readText(file('ssh_host_ed25519_key.pub')).trim().split(' ').slice(0, 2).join(' ')}\n`)

      const settings: GuestSettings = {
        hostname: HOSTNAME,
        network: {address: VM_IP, prefix: 24, gateway: HOST_IP, dns: [HOST_IP], mac: '52:54:00:64:00:02'},
        shares: suite.shares.map((transport, i) => ({path: shareDirs[i], tag: `share${i}`, transport})),
        // DLITE_TEST_DOCKER_ARGS: e.g. "--iptables=false" to measure the fast mode (os/README.md)
        dockerArgs: ['--log-level=info', ...(process.env.DLITE_TEST_DOCKER_ARGS ?? '').split(/\s+/).filter(Boolean)],
        tls: {ca: readText(tls.ca), serverCert: readText(tls.serverCert), serverKey: readText(tls.serverKey)},
        authorizedKeys: [readText(file('id_ed25519.pub'))],
        sshHostKeys: {ed25519: readText(file('ssh_host_ed25519_key'))},
      }
      expect(buildSettingsBundle(settings).length).to.be.greaterThan(1024)
      await writeSettingsBundle(file('settings.tar'), settings)
      expect(statSync(file('settings.tar')).mode & 0o777).to.equal(0o600)

      // a blank sparse data disk: the guest formats it on first boot
      execFileSync('truncate', ['-s', '8G', file('data.img')])
      tarball = await busyboxImageTarball(work, suite.busybox?.(work, dist))
    })

    afterEach(function () {
      if (this.currentTest?.state === 'failed' && consoleLog) {
        process.stderr.write(`\n--- console (last 60 lines) ---\n${readText(consoleLog).split('\n').slice(-60).join('\n')}\n`)
      }
    })

    after(async function () {
      if (qemu && qemu.exitCode === null) qemu.kill('SIGKILL')
      virtiofsd?.kill('SIGKILL')
      await ns?.remove()
      if (work && process.env.DLITE_TEST_KEEP !== '1') rmSync(work, {recursive: true, force: true})
      else if (work) log(`kept ${work}`)
    })

    it('boots and signals docker readiness', async function () {
      const seconds = await boot()
      expect(seconds).to.be.lessThan((suite.bootTimeoutMs ?? 300_000) / 1000)
      const c = readText(consoleLog)
      expect(c).to.include('DLITE-STAGE data-format') // first boot formats the blank disk
      expect(c).to.include(`DLITE-STAGE share-${suite.shares.join('+')}`)
    })

    it('serves the docker API over TLS with client certificates only', async function () {
      const v = await docker(['version', '--format', '{{.Server.Version}}'])
      expect(v.code, v.stderr).to.equal(0)
      expect(manifest.docker.version).to.include(v.stdout.trim())
      // without a client certificate the TLS handshake is refused
      const noCert = await docker(['--tls', '--tlscacert', tls.ca, 'version'], {tls: false, timeoutMs: 30_000})
      expect(noCert.code).to.not.equal(0)
      // never plain TCP
      const plain = await ns!.run('docker', ['-H', `tcp://${VM_IP}:2375`, 'version'], {timeoutMs: 30_000})
      expect(plain.code).to.not.equal(0)
    })

    it(`imports a local image and runs a container that sees the share${suite.shares.length > 1 ? 's' : ''} (${suite.shares.join(', ')})`, async function () {
      const imp = await ns!.run('sh', ['-c', `docker --tlsverify --tlscacert ${tls.ca} --tlscert ${tls.clientCert} --tlskey ${tls.clientKey} -H tcp://${VM_IP}:2376 import - busybox:local < ${tarball}`], {
        timeoutMs: 120_000, env: {...process.env, DOCKER_CONFIG: file('docker-config')},
      })
      expect(imp.code, imp.stderr).to.equal(0)
      const t0 = Date.now()
      const run = await docker(['run', '--rm', 'busybox:local', 'busybox', 'echo', 'hi from the guest'])
      log(`docker run --rm: ${((Date.now() - t0) / 1000).toFixed(1)} s`)
      expect(run.code, run.stderr).to.equal(0)
      expect(run.stdout.trim()).to.equal('hi from the guest')
      for (const [i, dir] of shareDirs.entries()) {
        const share = await docker(['run', '--rm', '-v', `${dir}:/share`, 'busybox:local', 'busybox', 'cat', '/share/hello.txt'])
        expect(share.code, share.stderr).to.equal(0)
        expect(share.stdout.trim(), `${suite.shares[i]} share ${dir}`).to.equal(`hello from the host${i === 0 ? '' : ` (share${i})`}`)
      }
    })

    // the full variant (the x86_64 image): discard, ssh, idle memory
    if (suite.full) {
      it('returns freed blocks to the sparse data disk (discard)', async function () {
        const allocated = () => statSync(file('data.img')).blocks * 512
        const before = allocated()
        const w = await docker(['run', '--rm', 'busybox:local', 'busybox', 'sh', '-c', 'dd if=/dev/urandom of=/big bs=1M count=48 2>/dev/null && sync && busybox ls -l /big'], {timeoutMs: 300_000})
        expect(w.code, w.stderr).to.equal(0)
        // the container and its 48 MiB layer are gone; online discard hands the blocks back
        const after = await waitFor('the data disk to shrink back', 60_000, () => {
          const a = allocated()
          return a < before + 16 * 1048576 ? a : undefined
        }, 1000)
        log(`data disk allocated: ${(before / 1048576).toFixed(0)} MiB before, ${(after / 1048576).toFixed(0)} MiB after a 48 MiB container layer came and went`)
      })

      it('lets user docker in over ssh with the pinned host key, with sudo', async function () {
        await waitFor('DLITE-READY ssh', 60_000, () => readText(file(`ready-${bootCount}.log`)).includes('DLITE-READY ssh') || undefined)
        const r = await ssh('id -un; sudo -n id -u; cat /etc/dlite-release; hostname')
        expect(r.code, r.stderr).to.equal(0)
        const lines = r.stdout.trim().split('\n')
        expect(lines[0]).to.equal('docker')
        expect(lines[1]).to.equal('0')
        expect(r.stdout).to.include(`DLITE_OS_VERSION=${manifest.version}`)
        expect(lines.at(-1)).to.equal(HOSTNAME)
        const root = await ns!.run('ssh', ['-i', sshKey, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'BatchMode=yes', `root@${VM_IP}`, 'true'], {timeoutMs: 30_000})
        expect(root.code).to.not.equal(0)
      })

      it('reports QEMU memory after 60 s idle', async function () {
        await sleep(60_000)
        const rss = Math.round(rssMiB(qemu!.pid!))
        // ip netns exec execs QEMU in place, so the child pid is QEMU's
        log(`QEMU RSS after 60 s idle: ${rss} MiB (guest memory ${MEMORY_MIB} MiB)`)
        expect(rss).to.be.greaterThan(0)
      })
    }

    it('powers off cleanly on the power button within 30 s (ACPI on q35, the GPIO key on virt)', async function () {
      const seconds = await powerOff()
      expect(seconds).to.be.lessThan(30)
      const c = readText(consoleLog)
      expect(c).to.include('DLITE-STAGE dockerd-stopped')
      expect(c).to.include('DLITE-STAGE shutdown-done')
    })

    // and a second boot
    if (suite.full) {
      it('boots again with the image still there and no filesystem recovery', async function () {
        await boot()
        const c = readText(consoleLog)
        expect(c).to.not.include('DLITE-STAGE data-format')
        expect(c).to.match(/DLITE-FSCK 0 /)
        expect(c).to.not.match(/recovery|orphan/i)
        const ls = await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])
        expect(ls.code, ls.stderr).to.equal(0)
        expect(ls.stdout.split('\n')).to.include('busybox:local')
        const run = await docker(['run', '--rm', 'busybox:local', 'busybox', 'echo', 'still here'], {timeoutMs: 300_000})
        expect(run.code, run.stderr).to.equal(0)
        expect(run.stdout.trim()).to.equal('still here')
        await powerOff()
      })
    }
  })
}
