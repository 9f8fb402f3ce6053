// Start to ready (issue 8, item 1; issue 14): `dlite start` until `docker version` answers through the host
// socket, booted cold and resumed from the state `dlite stop` saved, against a conventional guest (bench/baseline-guest/build.sh: the same Debian trixie packages and kernel,
// systemd as PID 1, Debian's initramfs, ext4 root, docker/containerd/ssh as units) booted with the same
// QEMU argv builder, accelerator, vCPUs and memory, until its docker API answers. Runs alternate, N >= 3
// each, after one unmeasured warm-up boot per side; every VM boots inside a private network namespace.
//
// Env: DLITE_BENCH_N (default 3), DLITE_BENCH_ACCEL (default tcg: the nested KVM here hangs stock kernels).
import type {ChildProcess} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as delay} from 'node:timers/promises'

import {buildQemuArgv, kernelCmdlineFor} from '../src/hypervisor/qemu-argv.js'
import {REPO} from '../test/helpers/dlite-cli.js'
import {createNetns, runCommand, type Netns} from '../test/helpers/netns.js'
import type {BenchResult, BenchRow} from './result.js'
import {sandboxVm, type SandboxVm} from './sandbox-vm.js'
import {median, round} from './stats.js'

const N = Math.max(3, Number(process.env.DLITE_BENCH_N ?? 3))
const ACCEL = (process.env.DLITE_BENCH_ACCEL ?? 'tcg') as 'tcg' | 'kvm'
const TARGET_RATIO = 0.35
const RESUME_TARGET_RATIO = 0.10
const VM_IP = '192.168.64.2'
const HOST_IP = '192.168.64.1'
const READY_TIMEOUT_MS = 400_000

/** Guest-side times, seconds of guest uptime (CLOCK_MONOTONIC since the kernel started). */
interface Stages {
  initramfs?: number
  init?: number
  containerd?: number
  dockerd?: number
  api?: number
}

interface Sample {
  total: number
  stages: Stages
  /** host seconds from the start of the measurement to QEMU being spawned (dlite: CLI + daemon + network) */
  qemuSpawn?: number
  /** dlite: the save its stop made afterwards, seconds and MiB */
  save?: {s: number; mib: number}
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const log = (message: string) => process.stderr.write(`[start-to-ready] ${message}\n`)
const readText = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '')
// dlite's own kernel command line, as the built image's manifest gives it; the baseline adds only its root device.
const dliteCmdline = () => (JSON.parse(readText(join(REPO, 'os', 'dist', 'manifest.json'))) as {kernel: {cmdline: string}}).kernel.cmdline

async function pollDocker(ns: Netns, args: string[], env: NodeJS.ProcessEnv, deadline: number, alive: () => boolean = () => true): Promise<void> {
  for (;;) {
    const r = await ns.run('docker', [...args, 'version', '--format', '{{.Server.Version}}'], {env, timeoutMs: 20_000})
    if (r.code === 0 && r.stdout.trim()) return
    if (!alive()) throw new Error('the VM exited before docker answered')
    if (Date.now() > deadline) throw new Error(`docker did not answer: ${r.stderr.trim().split('\n').pop()}`)
    await sleep(200)
  }
}

// ---------------------------------------------------------------------------------------------- dlite

function dliteStages(consoleText: string): Stages {
  const at = (re: RegExp) => {
    const m = consoleText.match(re)
    return m ? Number(m[1]) : undefined
  }
  return {
    initramfs: at(/DLITE-STAGE initrd ([\d.]+)/),
    init: at(/DLITE-STAGE init ([\d.]+)/),
    containerd: at(/DLITE-STAGE containerd-start ([\d.]+)/),
    dockerd: at(/DLITE-STAGE dockerd-start ([\d.]+)/),
    api: at(/DLITE-READY docker ([\d.]+)/),
  }
}

/**
 * One `dlite start`, cold (`--cold`: whatever the last stop saved is discarded) or resuming the state the last
 * stop saved, then a `dlite stop` that saves it again (for the next resume run).
 */
async function dliteRun(vm: SandboxVm, how: 'cold' | 'resume'): Promise<Sample> {
  const env = {...process.env, DLITE_HOME: vm.home, DOCKER_CONFIG: join(vm.dir, 'docker-config'), DOCKER_HOST: '', DOCKER_CONTEXT: ''}
  const t0 = Date.now()
  // Spawned (not run) so the moment the 'vm' stage is reported can be timed: that is when QEMU was spawned.
  const child = vm.ns.spawn(process.execPath, [join(REPO, 'bin', 'run.js'), 'start', '--timeout', '400', ...(how === 'cold' ? ['--cold'] : [])], {env, stdio: ['ignore', 'pipe', 'pipe']})
  let output = ''
  let qemuSpawn: number | undefined
  const onData = (d: Buffer) => {
    output += d.toString()
    // listr's simple renderer prints "✔ Start the VM (QEMU)" once the daemon has spawned QEMU
    if (qemuSpawn === undefined && /(✔|COMPLETED).*Start the VM \(QEMU\)/.test(output)) qemuSpawn = (Date.now() - t0) / 1000
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  if (code !== 0) throw new Error(`dlite start failed (${code}): ${output}`)
  await pollDocker(vm.ns, ['-H', `unix://${vm.socket}`], env, Date.now() + 60_000)
  const total = (Date.now() - t0) / 1000
  const status = JSON.parse((await vm.cli(['status', '--json'])).stdout) as {resumedFrom?: number; coldBoot?: string}
  if ((how === 'resume') !== (status.resumedFrom !== undefined)) throw new Error(`a ${how} run was not one: ${status.coldBoot ?? 'it resumed a state'}`)
  // a resumed guest does not boot: it has no stage markers of this run
  const stages = how === 'cold' ? dliteStages(readText(join(vm.home, 'logs', 'console.log'))) : {}
  const stopped = await vm.cli(['stop', '--timeout', '60', '--json'], {timeoutMs: 240_000})
  if (stopped.code !== 0) throw new Error(`dlite stop failed: ${stopped.stderr}`)
  const saved = (JSON.parse(stopped.stdout) as {saved?: {bytes: number; ms: number}}).saved
  if (!saved) throw new Error(`dlite stop did not save the VM: ${stopped.stdout}`)
  return {total, stages, qemuSpawn, save: {s: saved.ms / 1000, mib: saved.bytes / 1048576}}
}

// ------------------------------------------------------------------------------------------- baseline

interface Baseline {
  ns: Netns
  dir: string
  work: string
  close(): Promise<void>
}

export async function buildBaseline(): Promise<string> {
  const t0 = Date.now()
  const r = await runCommand('nice', ['-n', '19', 'bash', join(REPO, 'bench', 'baseline-guest', 'build.sh')], {timeoutMs: 1_800_000})
  if (r.code !== 0) throw new Error(`baseline guest build failed:\n${r.stderr.slice(-3000)}`)
  log(`baseline guest ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
  return r.stdout.trim().split('\n').pop()!
}

export async function baselineVm(dir: string): Promise<Baseline> {
  const ns = await createNetns('dlite-bench-base')
  const work = mkdtempSync(join(tmpdir(), 'dlite-bench-base-'))
  const close = async () => {
    await ns.remove()
    rmSync(work, {recursive: true, force: true})
  }
  try {
    // The same host side as dlite's: a bridge at .1 and the VM's tap on it.
    const r = await ns.run('sh', ['-ec', `ip link add br0 type bridge && ip addr add ${HOST_IP}/24 dev br0 && ip link set br0 up
      ip tuntap add dev tap0 mode tap && ip link set tap0 master br0 && ip link set tap0 up`])
    if (r.code !== 0) throw new Error(`network set-up: ${r.stderr}`)
    // A private copy of the root disk; it persists across this run's boots, like a VM's disk does.
    await runCommand('cp', ['--sparse=always', join(dir, 'root.img'), join(work, 'root.img')])
    copyFileSync(join(dir, 'id_ed25519'), join(work, 'id_ed25519'))
    mkdirSync(join(work, 'docker-config'))
  } catch (error) {
    await close()
    throw error
  }
  return {ns, dir, work, close}
}

function ssh(b: Baseline, command: string) {
  return b.ns.run('ssh', ['-i', join(b.work, 'id_ed25519'), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'LogLevel=ERROR', `root@${VM_IP}`, command], {timeoutMs: 60_000})
}

/** Reads the boot's times from the guest itself: the kernel's and systemd's CLOCK_MONOTONIC stamps. */
async function baselineStages(b: Baseline): Promise<Stages> {
  const script = [
    // systemd as PID 1 on the real root (no systemd in Debian's initramfs, so this is its start on the root)
    'echo systemd $(systemctl show -P UserspaceTimestampMonotonic)',
    'echo containerd $(systemctl show -P ExecMainStartTimestampMonotonic containerd.service)',
    'echo dockerd $(systemctl show -P ExecMainStartTimestampMonotonic docker.service)',
    `journalctl -b -u docker.service -o short-monotonic --no-pager | grep -m1 'API listen on' || true`,
  ].join('; ')
  let r = await ssh(b, script)
  for (let i = 0; i < 30 && r.code !== 0; i++) {
    await sleep(2000)
    r = await ssh(b, script)
  }
  if (r.code !== 0) throw new Error(`ssh into the baseline guest failed: ${r.stderr}`)
  const mono = (re: RegExp) => {
    const line = r.stdout.split('\n').find((l) => re.test(l))
    const m = line?.match(/^\[\s*([\d.]+)\]/)
    return m ? Number(m[1]) : undefined
  }
  const usec = (name: string) => {
    const m = r.stdout.match(new RegExp(`^${name} (\\d+)`, 'm'))
    return m ? Number(m[1]) / 1e6 : undefined
  }
  return {
    init: usec('systemd'),
    containerd: usec('containerd'),
    dockerd: usec('dockerd'),
    api: mono(/API listen on/),
  }
}

export async function baselineRun(b: Baseline, tag: string): Promise<Sample> {
  const consoleLog = join(b.work, `console-${tag}.log`)
  const cmd = buildQemuArgv({
    accel: ACCEL,
    cpus: 2,
    memoryMiB: 2048,
    kernel: join(b.dir, 'vmlinuz'),
    initrd: join(b.dir, 'initrd.img'),
    cmdline: kernelCmdlineFor(`${dliteCmdline()} root=LABEL=baseroot rw`, ACCEL),
    extraDisks: [{path: join(b.work, 'root.img'), format: 'raw', discard: true}],
    net: {type: 'tap', ifname: 'tap0', mac: '52:54:00:64:00:02'},
    qmpSocket: join(b.work, 'qmp.sock'),
    serialLog: consoleLog,
    name: 'dlite-bench-baseline',
  })
  const tls = join(b.dir, 'tls')
  const env = {...process.env, DOCKER_CONFIG: join(b.work, 'docker-config'), DOCKER_HOST: '', DOCKER_CONTEXT: ''}
  const t0 = Date.now()
  const qemu: ChildProcess = b.ns.spawn(cmd.binary, cmd.args, {stdio: ['ignore', 'ignore', 'pipe']})
  let stderr = ''
  qemu.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  // Host times of two console lines: initramfs-tools' "Loading, please wait..." (its /init started) and
  // systemd's "Welcome to" (PID 1 on the root). The kernel's printk clock disagrees with CLOCK_MONOTONIC
  // under TCG here, so the initramfs point is placed on the guest clock through systemd's start instead.
  const seen: {loading?: number; welcome?: number} = {}
  const watch = setInterval(() => {
    if (seen.loading !== undefined && seen.welcome !== undefined) return
    const text = readText(consoleLog)
    const now = (Date.now() - t0) / 1000
    if (seen.loading === undefined && text.includes('Loading, please wait')) seen.loading = now
    if (seen.welcome === undefined && text.includes('Welcome to')) seen.welcome = now
  }, 100)
  let exited = false
  const exit = new Promise<void>((resolve) => qemu.on('exit', () => {
    exited = true
    resolve()
  }))
  try {
    await pollDocker(b.ns, ['--tlsverify', '--tlscacert', join(tls, 'ca.pem'), '--tlscert', join(tls, 'cert.pem'), '--tlskey', join(tls, 'key.pem'),
      '-H', `tcp://${VM_IP}:2376`], env, t0 + READY_TIMEOUT_MS, () => !exited).catch((error: Error) => {
      throw new Error(`${error.message}\n${stderr}\n--- console ---\n${readText(consoleLog).slice(-3000)}`)
    })
    const total = (Date.now() - t0) / 1000
    clearInterval(watch)
    const stages = await baselineStages(b)
    stages.initramfs = seen.loading !== undefined && seen.welcome !== undefined && stages.init !== undefined
      ? stages.init - (seen.welcome - seen.loading) : undefined
    return {total, stages, qemuSpawn: 0}
  } finally {
    clearInterval(watch)
    // A clean shutdown, as a user's VM gets; the disk stays consistent for the next boot.
    if (!exited) await ssh(b, 'systemctl poweroff').catch(() => undefined)
    // an unref'd timer: once QEMU is gone it must not hold the finished benchmark open for the rest of 120 s
    await Promise.race([exit, delay(120_000, undefined, {ref: false})])
    if (!exited) {
      log('baseline guest did not power off within 120 s; killing QEMU')
      qemu.kill('SIGKILL')
      await exit
    }
  }
}

// ---------------------------------------------------------------------------------------------- bench

function describe(side: string, s: Sample): string {
  const st = s.stages
  return `${side}: ${s.total.toFixed(1)} s (qemu spawn ${s.qemuSpawn?.toFixed(1) ?? '?'}, initramfs ${st.initramfs ?? '?'}, init ${st.init ?? '?'}, ` +
    `containerd ${st.containerd?.toFixed(2) ?? '?'}, dockerd ${st.dockerd?.toFixed(2) ?? '?'}, api ${st.api ?? '?'} guest s)`
}

export async function startToReady(): Promise<BenchResult> {
  const baseDir = await buildBaseline()
  const info = readText(join(baseDir, 'info.env'))
  const dliteManifest = JSON.parse(readText(join(REPO, 'os', 'dist', 'manifest.json'))) as {kernel: {version: string}; docker: {version: string}}
  const samples: {dlite: Sample[]; resume: Sample[]; baseline: Sample[]} = {dlite: [], resume: [], baseline: []}
  const vm = await sandboxVm({start: false})
  let base: Baseline | undefined
  try {
    base = await baselineVm(baseDir)
    // One unmeasured boot each: dlite's first start formats its data disk, the baseline's first boot
    // settles its fresh disk (journal, machine-id); measured runs are then all warm restarts.
    log(describe('dlite warm-up', await dliteRun(vm, 'cold')))
    log(describe('baseline warm-up', await baselineRun(base, 'warmup')))
    for (let i = 0; i < N; i++) {
      // Alternate which side goes first in each round; a resume follows the cold run whose stop saved the state.
      const order = i % 2 === 0 ? ['dlite', 'resume', 'baseline'] as const : ['baseline', 'dlite', 'resume'] as const
      for (const side of order) {
        const s = side === 'baseline' ? await baselineRun(base, String(i)) : await dliteRun(vm, side === 'dlite' ? 'cold' : 'resume')
        samples[side].push(s)
        log(describe(`${side} run ${i + 1}/${N}`, s))
      }
    }
  } finally {
    await base?.close()
    await vm.close()
  }

  const med = (side: 'dlite' | 'resume' | 'baseline', f: (s: Sample) => number | undefined) => {
    const values = samples[side].map(f).filter((v): v is number => v !== undefined && Number.isFinite(v))
    return values.length > 0 ? round(median(values), 1) : Number.NaN
  }
  const total = {dlite: med('dlite', (s) => s.total), baseline: med('baseline', (s) => s.total)}
  const ratio = round(total.dlite / total.baseline, 2)
  const resumed = med('resume', (s) => s.total)
  const resumeRatio = round(resumed / total.baseline, 2)
  const rows: BenchRow[] = [{
    metric: 'start to ready, cold boot (docker version answers)', value: total.dlite, unit: 's', baseline: total.baseline,
    baselineName: 'systemd guest', ratio, target: `ratio <= ${TARGET_RATIO}`, met: ratio <= TARGET_RATIO,
  }, {
    metric: 'start to ready, resumed from the state dlite stop saved', value: resumed, unit: 's', baseline: total.baseline,
    baselineName: 'systemd guest', ratio: resumeRatio, target: `ratio <= ${RESUME_TARGET_RATIO}`, met: resumeRatio <= RESUME_TARGET_RATIO,
  }, {
    metric: 'dlite stop: saving the state (after each measured run)', value: med('dlite', (s) => s.save?.s), unit: 's',
  }, {
    metric: 'dlite stop: size of the saved state', value: med('dlite', (s) => s.save?.mib), unit: 'MiB',
  }]
  // The breakdown, as spans between consecutive points; guest spans come from guest CLOCK_MONOTONIC stamps.
  const span = (a: keyof Stages | 'zero', b: keyof Stages) => (s: Sample) => {
    const from = a === 'zero' ? 0 : s.stages[a]
    const to = s.stages[b]
    return from === undefined || to === undefined ? undefined : to - from
  }
  const parts: [string, (s: Sample) => number | undefined][] = [
    ['start command -> QEMU spawned (host)', (s) => s.qemuSpawn],
    ['QEMU spawned -> kernel, plus API listening -> client answered (host total - guest uptime at API listen - QEMU spawn)',
      (s) => (s.stages.api === undefined ? undefined : s.total - s.stages.api - (s.qemuSpawn ?? 0))],
    ['kernel -> initramfs /init', span('zero', 'initramfs')],
    ['initramfs -> init on the root (PID 1: busybox rc / systemd)', span('initramfs', 'init')],
    ['init -> containerd started', span('init', 'containerd')],
    ['containerd -> dockerd started', span('containerd', 'dockerd')],
    ['dockerd started -> API listening', span('dockerd', 'api')],
  ]
  for (const [metric, f] of parts) {
    const d = med('dlite', f)
    const b = med('baseline', f)
    rows.push({metric: `breakdown: ${metric}`, value: d, unit: 's', baseline: b, baselineName: 'systemd guest',
      ratio: Number.isFinite(d / b) && b > 0 ? round(d / b, 2) : undefined})
  }

  const infoValue = (key: string) => info.match(new RegExp(`^${key}=(.*)$`, 'm'))?.[1] ?? '?'
  const method = [
    `Alternated runs (N=${N} each, order swapped every round, after one unmeasured warm-up boot per side), medians, ratio dlite/baseline; targets: cold ratio <= ${TARGET_RATIO}, resume ratio <= ${RESUME_TARGET_RATIO}. ` +
      'Each round has a cold dlite run (`dlite start --cold`) and a resume run right after it (`dlite start`, resuming the state that the cold run\'s `dlite stop` saved); every dlite run ends with a `dlite stop` that saves, timed apart from the start.',
    `dlite: a sandbox install (bench/sandbox-vm.ts: 2 vCPU, 2 GiB, virtiofs share, os/dist, kernel ${dliteManifest.kernel.version}, docker ${dliteManifest.docker.version}) in its own network namespace; ` +
      'timed from spawning `dlite start` until `docker -H unix://<host socket> version` succeeds (dlite start returns at that point; one extra docker version confirms it), then `dlite stop`.',
    `Baseline: bench/baseline-guest/build.sh (cached in the OS builder's cache directory, baseline-<hash>/): mmdebstrap trixie with the dlite package list plus systemd-sysv, udev, dbus, initramfs-tools, zstd, ifupdown, iproute2 ` +
      `(${infoValue('PACKAGES')} packages, kernel ${infoValue('KERNEL_VERSION')}, systemd ${infoValue('SYSTEMD_VERSION')}, docker ${infoValue('DOCKER_VERSION')}); ` +
      `Debian's own initramfs (initramfs-tools, MODULES=most, ${(Number(infoValue('INITRD_SIZE')) / 1048576).toFixed(0)} MiB), an 8 GiB ext4 root disk (virtio-blk, writable, kept across the run's boots), ` +
      'systemd as PID 1 with docker.service/docker.socket, containerd.service, ssh.service and ifupdown (static 192.168.64.2 on eth0) enabled; dockerd also listens on TLS 2376 with client certificates. ' +
      'Booted with buildQemuArgv (the same builder dlite uses) in its own namespace with a bridge and tap like dlite\'s; timed from spawning QEMU until ' +
      '`docker --tlsverify -H tcp://192.168.64.2:2376 version` succeeds from the namespace; then `systemctl poweroff` over ssh.',
    `Same: QEMU binary, accelerator (${ACCEL}, multi-threaded, tb-size 64), -machine q35, -cpu max, -smp 2, -m 2048, virtio-blk with cache=writeback,aio=threads, virtio-net on a tap, virtio-rng, virtio-balloon, ` +
      `serial console to a file, kernel command line "${dliteCmdline()}" (the baseline adds root=LABEL=baseroot rw), the same kernel package.`,
    'Differences: dlite\'s time includes its CLI, daemon, host bridge/tap/NAT set-up and virtiofsd, the baseline\'s none of that (its namespace and tap exist before the clock starts); ' +
      'dlite polls through its host socket proxy (unix -> TLS), the baseline with the docker CLI straight over TLS; dlite has a read-only squashfs root plus an ext4 data disk and a virtiofs share ' +
      '(memfd-backed RAM) and a fw_cfg settings blob, the baseline one writable ext4 disk, no share, no fw_cfg; dlite\'s guest powers off through QMP/ACPI, the baseline through ssh; ' +
      'dlite\'s guest runs iptables on the legacy backend, the baseline on Debian\'s default (nft).',
    'Breakdown: guest points are CLOCK_MONOTONIC seconds since the kernel started. dlite: the DLITE-STAGE initrd / init / containerd-start / dockerd-start and DLITE-READY docker ' +
      '(dockerd logged "API listen on /var/run/docker.sock") console markers. Baseline, read over ssh after each run: systemd\'s ' +
      'UserspaceTimestampMonotonic (PID 1 started on the root), ExecMainStartTimestampMonotonic of containerd.service and docker.service, and dockerd\'s first "API listen on" journal line; the initramfs start is placed ' +
      'by the host-observed gap between initramfs-tools\' "Loading, please wait..." and systemd\'s "Welcome to" console lines (100 ms polling), counted back from systemd\'s start ' +
      '(the kernel\'s printk stamps, e.g. "Run /init as init process", disagree with CLOCK_MONOTONIC under TCG here (they put the initramfs start after systemd\'s), so they are not used). ' +
      'The host-side remainder (total minus guest uptime at API listen minus the QEMU spawn time) is the firmware/kernel load before the guest clock starts plus the client\'s poll latency. ' +
      'dlite\'s QEMU spawn time is when `dlite start` reported its vm/boot stage (approximate).',
  ].join('\n\n')
  const flat = (side: 'dlite' | 'resume' | 'baseline') => samples[side].map((s) => round(s.total, 1))
  return {name: 'start-to-ready', method, rows, samples: {dlite: flat('dlite'), resume: flat('resume'), baseline: flat('baseline')}}
}
