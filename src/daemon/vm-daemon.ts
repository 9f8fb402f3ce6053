// The dlite daemon: owns one VM for one DLITE_HOME and runs as the user who owns that home. It composes the
// parts that each do one job — the network driver (user or bridged), the share server, the VM backend (QEMU,
// supervised), readiness, the host docker socket and docker context, published-port forwarding, the plugins'
// hooks — in the order of the start's stages, answers the CLI on the control socket, and undoes everything on
// `stop` (from the CLI or SIGTERM). A stop saves the running VM's state where it can (vm/saved-state.ts), and the
// next start resumes it instead of booting.
import {randomUUID} from 'node:crypto'
import {mkdirSync, readFileSync, renameSync, rmSync} from 'node:fs'

import {which} from 'dlite-kit/exec'

import {readConfig, type DliteConfig} from '../config/index.js'
import {contextName, ensureDockerContext} from '../docker/context.js'
import {DockerClient, type DockerEndpoint} from '../docker/client.js'
import {growSparseDisk} from '../disk/index.js'
import {writeSettingsBundle} from '../guest/settings.js'
import {removeLegacyCaKey, tlsPaths} from '../guest/tls.js'
import {restrictDaemonUmask} from '../host/umask.js'
import {chooseAccelerator} from '../host/accelerator.js'
import {loadNative} from '../host/native.js'
import {kernelCmdlineFor, type Accel} from '../hypervisor/qemu-argv.js'
import {guestArchOf} from '../hypervisor/qemu-binary.js'
import {imageContractProblem} from '../guest/contract.js'
import {dockerdArgsProblem} from '../guest/dockerd-args.js'
import {withTimeout} from '../hypervisor/qmp.js'
import {resolveCurrentImage} from '../image/index.js'
import {networkNames, type NetworkNames} from '../network/names.js'
import {parseSubnet, type Subnet} from '../network/subnet.js'
import {defaultHome, dliteHome, homeLayout, profilesDir, type HomeLayout} from '../paths.js'
import {HOOKS, type VmLifecycleEvent, type VmReadyEvent} from '../plugin-api/index.js'
import type {MachineSpec, VmInstance} from '../vm/backend.js'
import type {GuestMarker} from '../vm/marker-watch.js'
import {machineArgs, QemuBackend} from '../vm/qemu-backend.js'
import {
  diskIdentity, discardSavedState, hostBootId, prepareSavedStateDir, qemuIdentity, readSavedState, savedStateProblem,
  sha256, writeSavedStateRecord, type SavedStateRecord, type StateIdentity,
} from '../vm/saved-state.js'
import {describeExit} from '../vm/supervisor.js'
import {clearVmRecord, liveRecordedVm, stopLeftoverVm, writeVmRecord} from '../vm/vm-record.js'
import {serveControl, type ControlServer} from './control-server.js'
import {CLEAN_STOP_TIMEOUT_MS, type ControlRequest, type ControlResponse, type SaveOutcome, type StageName, type VmStatus} from './control-protocol.js'
import {serveDockerSocket, type DockerSocket} from './docker-socket.js'
import {
  consoleLogPath, controlSocketPath, guestControlSocketPath, migrationSocketPath, pidFilePath, previousConsoleLogPath, previousReadinessLogPath,
  qemuLogPath, qmpSocketPath, readinessLogPath, savedStatePaths, settingsBundlePath, shareEventsSocketPath, virtiofsdLogPath, virtiofsSocketPath,
  vmRecordPath,
} from './daemon-paths.js'
import {GuestClock} from './guest-clock.js'
import {ShareEvents} from './share-events.js'
import {guestSettings} from './guest-settings.js'
import {failedPlugins, HookDispatch, type FireHook} from './hook-dispatch.js'
import {networkDriverFor} from './network-drivers/choose.js'
import {guestAddress, type NetworkDriver, type VmNetwork} from './network-drivers/driver.js'
import {PausedGuestWatch} from './paused-guest-watch.js'
import {peerCheck} from './peer-check.js'
import {acquirePidLock} from './pid-lock.js'
import {PortForwarder, hostHasIpv6Loopback} from './ports/index.js'
import {Readiness, SilentGuestError} from './readiness.js'
import {ShareServer} from './share-server.js'
import {StageReporter} from './stage-reporter.js'

export type {HookResult} from './hook-dispatch.js'

/** A guest that never became ready seldom powers off by itself: a failed start waits less for it. */
const FAILED_START_STOP_TIMEOUT_MS = 30_000
/** How long the guest may take to get ready for a save (sync, shares unmounted), or to mount them again after a resume. */
const GUEST_SAVE_TIMEOUT_MS = 30_000

/** How a stop ended: the VM's state saved for the next start, or the VM powered off (and why, where a save was meant). */
export interface StopOutcome {
  saved?: SaveOutcome
  poweredOff?: string
}

export interface DaemonOptions {
  home?: string
  hostsFile?: string
  /** Seconds to wait for docker to answer after QEMU starts. */
  bootTimeoutS?: number
  /** Seconds without any console output before the boot watchdog acts. */
  watchdogS?: number
  /** Fires a plugin hook; resolves with each plugin's defined result or error. A failing plugin is logged, not thrown. */
  fireHook: FireHook
  log: (line: string) => void
}

type Listener = (message: ControlResponse) => void

export class VmDaemon {
  readonly layout: HomeLayout
  readonly config: DliteConfig
  private readonly home: string
  private readonly names: NetworkNames
  private readonly subnet: Subnet
  private readonly status: VmStatus
  private readonly stages: StageReporter
  private readonly hooks: HookDispatch
  private readonly driver: NetworkDriver
  private readonly share: ShareServer
  private readonly readiness: Readiness
  private readonly clock: GuestClock
  private readonly shareEvents: ShareEvents
  private readonly pausedWatch: PausedGuestWatch
  private network?: VmNetwork
  private vm?: VmInstance
  private ports?: PortForwarder
  private control?: ControlServer
  private dockerSocket?: DockerSocket
  private releaseLock?: () => void
  private stopping?: Promise<StopOutcome>
  private accelerator: Accel = 'tcg'
  private onStopped: () => void = () => {}
  /** The share server died under a running QEMU (the share is gone until the next launch). */
  private shareLost = false
  /** `dlite pause` stopped the guest; only `dlite resume` (or a stop) lets it go on. */
  private pausedByUser = false
  /** What the running VM is (QEMU, its argv, the guest's settings): what a state saved from it must match. */
  private stateIdentity?: StateIdentity
  /** A saved state that matches the VM just launched for it, to load in the boot stage. */
  private resumeFrom?: SavedStateRecord
  /** A saved state is considered once per daemon: a fallback boot after it is cold. */
  private savedStateConsidered = false
  /** The guest's answers to the host's requests on the control port, by request number. */
  private readonly guestAnswers = new Map<string, {resolve: () => void; reject: (error: Error) => void}>()
  private guestRequests = 0
  /** Who asked for the stop in progress: each hears how it ended. */
  private readonly stopRequesters: Listener[] = []

  /** Reads the home's config and makes the daemon for it. */
  static async open(options: DaemonOptions): Promise<VmDaemon> {
    const home = options.home ?? dliteHome()
    return new VmDaemon({...options, home}, await readConfig(home))
  }

  private constructor(private readonly options: DaemonOptions & {home: string}, config: DliteConfig) {
    this.home = options.home
    this.layout = homeLayout(this.home)
    this.config = config
    this.names = networkNames(this.home)
    this.subnet = parseSubnet(this.config.subnet)
    this.stages = new StageReporter(options.log)
    this.hooks = new HookDispatch(options.fireHook, options.log)
    // user, bridged (Linux: bridge and tap), or bridged on macOS: vmnet through socket_vmnet
    this.driver = networkDriverFor(config, {home: this.home, subnet: this.subnet, hostsFile: options.hostsFile, log: options.log})
    this.share = new ShareServer({
      mounts: config.mounts, socketPathFor: (index) => virtiofsSocketPath(this.layout, index), logPath: virtiofsdLogPath(this.layout),
      onExit: (how, path) => this.onShareServerExit(how, path),
    })
    this.clock = new GuestClock({socketPath: guestControlSocketPath(this.layout), log: options.log})
    const events = this.share.eventRoots
    this.shareEvents = new ShareEvents({
      socketPath: shareEventsSocketPath(this.layout),
      roots: config.fileEvents === false ? [] : events.watched,
      // dlite's own directories change all the time (the VM's disk, its logs); shares without events inside a watched one
      exclude: [this.home, defaultHome(), profilesDir(), ...events.unwatched.map((share) => share.path)],
      log: options.log,
    })
    this.readiness = new Readiness({
      consoleLog: consoleLogPath(this.layout), previousConsoleLog: previousConsoleLogPath(this.layout),
      portLog: readinessLogPath(this.layout), previousPortLog: previousReadinessLogPath(this.layout),
      bootTimeoutS: options.bootTimeoutS ?? 180, watchdogS: options.watchdogS ?? 30,
      docker: () => new DockerClient(this.tlsEndpoint(), 5000), log: options.log,
      onMarker: (marker) => this.onGuestMarker(marker),
    })
    this.pausedWatch = new PausedGuestWatch({
      vm: () => this.vm, disk: this.layout.disk, log: options.log,
      onChange: (why) => {
        if (this.status.state !== 'running' && this.status.state !== 'paused') return
        this.status.state = why ? 'paused' : 'running'
        this.status.lastError = why
      },
    })
    this.status = {
      state: 'starting',
      pid: process.pid,
      network: config.network,
      ip: config.network === 'user' ? '127.0.0.1' : this.subnet.vmIp,
      hostname: this.config.hostname,
      dockerSocket: this.config.dockerSocket,
      dockerEndpoint: '',
      dockerContext: contextName(this.home),
      restarts: 0,
      imageVersion: this.config.image.current,
    }
  }

  private get lifecycleEvent(): VmLifecycleEvent {
    return {
      home: this.home, network: this.config.network, ip: this.status.ip, hostname: this.config.hostname,
      subnet: this.subnet.cidr, hostIp: this.subnet.hostIp, bridge: this.names.bridge,
    }
  }

  private get readyEvent(): VmReadyEvent {
    return {...this.lifecycleEvent, docker: {kind: 'unix', socketPath: this.config.dockerSocket}}
  }

  private tlsEndpoint(): DockerEndpoint {
    if (!this.network) throw new Error('the VM network is not set up yet')
    const tls = tlsPaths(this.layout.tls)
    return {
      kind: 'tls', host: this.network.docker.host, port: this.network.docker.port, servername: this.network.docker.servername,
      ca: readFileSync(tls.ca), cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey),
    }
  }

  /** Runs until stopped; resolves when the VM is down and everything is cleaned up. */
  async run(): Promise<void> {
    restrictDaemonUmask()
    for (const dir of [this.layout.run, this.layout.logs]) mkdirSync(dir, {recursive: true, mode: 0o755})
    this.releaseLock = acquirePidLock(pidFilePath(this.layout))
    const owner = this.config.owner
    const me = process.getuid?.() ?? 0
    this.control = await serveControl(controlSocketPath(this.layout), (request, reply) => this.onRequest(request, reply), {
      checkPeer: peerCheck(loadNative().peerCredentials, owner ? [me, owner.uid] : [me]),
      // a root daemon (bridged) lets the installing user's group in; a user's daemon keeps its socket to itself
      gid: me === 0 ? owner?.gid : undefined,
    })
    const stopped = new Promise<void>((resolve) => {
      const onSignal = () => {
        void this.stop().then(() => resolve())
      }
      process.once('SIGTERM', onSignal)
      process.once('SIGINT', onSignal)
      this.onStopped = resolve
    })
    // Last resort: a bug that throws (here or in a plugin's handler) must not leave QEMU, the network and the
    // sockets behind the way a crash would. Stop cleanly, with a deadline, and exit non-zero.
    const onFatal = (error: unknown) => {
      this.options.log(`internal error; stopping the VM and cleaning up: ${(error as Error)?.stack ?? String(error)}`)
      setTimeout(() => process.exit(1), FAILED_START_STOP_TIMEOUT_MS + 10_000).unref()
      void this.stop(FAILED_START_STOP_TIMEOUT_MS, true).finally(() => process.exit(1))
    }
    process.once('uncaughtException', onFatal)
    process.once('unhandledRejection', onFatal)
    // nothing issues certificates after install: a CA key an older dlite kept is only a way to mint them
    if (await removeLegacyCaKey(this.layout.tls).catch(() => false)) this.options.log('tls: removed the CA key an older dlite kept (nothing needs it)')
    try {
      await this.startVm()
      this.status.state = 'running'
      this.status.readyAt = Date.now()
      this.clock.start()
      this.shareEvents.start()
      if (this.config.fileEvents !== false) {
        for (const {path, why} of this.share.eventRoots.unwatched) this.options.log(`share events: none for ${path} (${why})`)
      }
      this.pausedWatch.start()
      this.stages.decide({type: 'ready', status: this.snapshot()})
    } catch (error) {
      if (this.stopping) {
        // stopped while starting: the start is abandoned, not failed
        this.options.log(`start abandoned: ${(error as Error).message}`)
        // what a stage finished making after the stop had already cleaned up
        await this.closePorts()
        await this.dockerSocket?.close()
        await this.vm?.kill()
        this.share.stop()
        await this.driver.tearDown().catch((e: Error) => this.options.log(e.message))
        this.stages.decide({type: 'failed', error: 'the VM was stopped before it was ready', status: this.snapshot()})
      } else {
        this.status.state = 'failed'
        this.status.lastError = (error as Error).message
        this.options.log(`start failed: ${this.status.lastError}`)
        this.stages.decide({type: 'failed', error: this.status.lastError, status: this.snapshot()})
        await this.stop(FAILED_START_STOP_TIMEOUT_MS)
      }
    }
    await stopped
  }

  private snapshot(): VmStatus {
    return {...this.status, restarts: this.vm?.restarts ?? 0, qemuPid: this.vm?.pid, ports: this.ports?.status()}
  }

  private onRequest(request: ControlRequest, reply: Listener): void {
    switch (request.op) {
      case 'status':
        reply({type: 'status', status: this.snapshot()})
        return
      case 'watch':
        this.stages.watch(reply, this.snapshot())
        return
      case 'stop':
        // answered before the control socket closes (doStop), which would cut this connection first
        this.stopRequesters.push(reply)
        void this.stop(request.timeoutMs, request.cold)
        return
      case 'pause':
      case 'resume':
        void (request.op === 'pause' ? this.pause() : this.resume()).then(
          (status) => reply({type: 'status', status}),
          (error: Error) => reply({type: 'error', error: error.message}),
        )
        return
      case 'plugin':
        if (this.status.state !== 'running') {
          reply({type: 'error', error: `the VM is ${this.status.state}; start it with \`dlite start\``})
          return
        }
        void this.hooks.pluginRequest(this.readyEvent, request.plugin, request.request).then(
          (result) => reply({type: 'plugin', result}),
          (error: Error) => reply({type: 'error', error: error.message}),
        )
        return
      default:
        reply({type: 'error', error: `unknown request ${(request as {op: string}).op}`})
    }
  }

  /** Stops the guest's CPUs; docker, ports and the shares wait, their connections held, until resume. */
  private async pause(): Promise<VmStatus> {
    if (this.pausedByUser) return this.snapshot()
    if (this.status.state !== 'running' || !this.vm) throw new Error(this.notRunning())
    await this.vm.pause()
    this.pausedByUser = true
    this.status.state = 'paused'
    this.status.pausedSince = Date.now()
    this.options.log('paused (dlite pause): the guest uses no CPU until dlite resume')
    return this.snapshot()
  }

  private async resume(): Promise<VmStatus> {
    if (this.status.state === 'running') return this.snapshot()
    if (!this.pausedByUser || !this.vm) throw new Error(this.notRunning())
    // the clock goes out on QEMU's RESUME event (superviseVm), whoever continued the guest
    await this.vm.resume()
    this.pausedByUser = false
    this.status.state = 'running'
    this.status.pausedSince = undefined
    this.options.log('resumed (dlite resume)')
    return this.snapshot()
  }

  private notRunning(): string {
    // QEMU paused it on a full host disk: start would not help, room on the disk does (the reason says where)
    if (this.status.state === 'paused' && this.status.lastError) return `the VM is ${this.status.lastError}`
    const why = this.status.lastError ? ` (${this.status.lastError})` : ''
    return `the VM is ${this.status.state}${why}, not running${this.status.state === 'stopping' ? '' : ': `dlite start` starts it'}`
  }

  /** A stage of the start, unless a stop came first: then the start ends before it. */
  private stage<T>(name: StageName, work: () => Promise<T>, detail?: (value: T) => string | undefined): Promise<T> {
    if (this.stopping) return Promise.reject(new Error('the VM was stopped before it was ready'))
    return this.stages.run(name, work, detail)
  }

  private async startVm(): Promise<void> {
    this.status.startedAt = Date.now()
    const network = await this.stage('network', async () => {
      // a VM an earlier daemon left running would hold the disk (and, bridged, the tap): it goes first
      await this.stopLeftoverVm()
      return this.driver.setUp()
    }, (n) => n.summary)
    this.network = network
    this.status.ip = network.routableIp ?? '127.0.0.1'
    this.status.guestIp = guestAddress(network)
    this.status.dockerEndpoint = `tcp://${network.docker.host}:${network.docker.port}`
    this.status.ssh = network.ssh

    // virtiofsd serves one QEMU and exits with it: the backend starts it again before every launch
    await this.stage('share', async () => this.share.reason, (reason) => reason)

    // the guest's architecture is the OS image's: kvm and hvf run only the host's own
    const choice = chooseAccelerator(loadNative().probe(), this.config.accel, this.imageArch())
    this.setAccelerator(choice.accelerator, choice.reason)
    // The full reason is in `dlite status` and `dlite doctor`; the stage line stays short.
    const accelNote = choice.fallback ? `${choice.accelerator} (${choice.hardware?.name ?? 'hardware acceleration'} not usable here; see dlite doctor)` : choice.accelerator
    this.readiness.start()
    await this.stage('vm', () => this.startQemu(), () => this.resumeFrom ? `${accelNote}, loading the saved state` : accelNote)
    await this.stage('boot', () => this.resumeFrom ? this.resumeSavedState(this.resumeFrom) : this.bootWithFallback(), (s) => s)
    if (network.learnsAddress) {
      await network.learnsAddress.learnt()
      this.status.ip = network.routableIp ?? '127.0.0.1'
      this.status.guestIp = guestAddress(network)
      this.status.dockerEndpoint = `tcp://${network.docker.host}:${network.docker.port}`
    }
    this.status.dockerVersion = await this.stage('docker', () => this.readiness.waitForDocker(this.status.dockerEndpoint), (v) => `docker ${v}`)
    this.dockerSocket = await this.stage('socket', () => this.exposeDockerSocket(), () => this.config.dockerSocket)
    await this.stage('ports', () => this.forwardPorts(), (s) => s)
    await this.stage('context', () => this.createContext(), (s) => s)
    // A failing plugin does not fail the start, but the user sees it in the pipeline, not only in the log.
    await this.stage('plugins', () => this.hooks.ready(this.readyEvent), failedPlugins)
  }

  /**
   * What the guest says after it was ready. Its keeper starts dockerd or containerd again when one exits
   * (os/README.md): status names the last such restart, and a keeper that gave up is the VM's error.
   */
  private onGuestMarker(marker: GuestMarker): void {
    // vmnet: the guest's DHCP lease is its address
    this.network?.learnsAddress?.onMarker(marker)
    if (marker.kind === 'READY' && marker.text === 'clock') this.clock.guestListening()
    const answered = marker.kind === 'READY' ? /^(?:prepared|resumed) (\d+)$/.exec(marker.text) : undefined
    if (answered) this.guestAnswers.get(answered[1])?.resolve()
    const refused = marker.kind === 'FAIL' ? /^prepare-save (\d+): (.*)$/.exec(marker.text) : undefined
    if (refused) this.guestAnswers.get(refused[1])?.reject(new Error(refused[2]))
    if (!marker.text.startsWith('docker: ')) return
    if (marker.kind === 'WARN' && marker.text.includes(' exited; started it again')) {
      this.status.lastRestart = `guest: ${marker.text.slice('docker: '.length)} (${new Date().toISOString()})`
    }
    if (marker.kind === 'FAIL' && this.status.state === 'running') this.status.lastError = marker.text
  }

  /**
   * virtiofsd also exits with its QEMU (a restart brings a new one). One that ends while its QEMU runs takes the
   * share with it: QEMU 7.2 cannot reconnect a vhost-user-fs device, so the user is told how to get it back.
   */
  private onShareServerExit(how: string, path: string): void {
    const pid = this.vm?.pid
    setTimeout(() => {
      if (pid === undefined || this.vm?.pid !== pid || this.stopping) return
      const why = `the share server (virtiofsd) ${how}: ${path} is not shared until the VM restarts (dlite stop && dlite start)`
      this.options.log(why)
      this.status.lastError = why
      this.shareLost = true
    }, 1000)
  }

  /** A VM whose daemon died and that did not die with it (no parent-death signal on this host): stopped. */
  private async stopLeftoverVm(): Promise<void> {
    const path = vmRecordPath(this.layout)
    const leftover = liveRecordedVm(path)
    if (!leftover) return
    this.options.log(`QEMU pid ${leftover.pid}, left running by daemon pid ${leftover.daemonPid}, still holds this VM: stopping it`)
    if (!(await stopLeftoverVm(path))) throw new Error(`QEMU pid ${leftover.pid}, left by an earlier dlite daemon, would not stop; kill it (kill -9 ${leftover.pid}) and start again`)
  }

  /** The current OS image's architecture; undefined when it cannot be read (the vm stage then says why). */
  private imageArch(): string | undefined {
    try {
      return resolveCurrentImage(this.layout.images, this.config.image.current).manifest.arch
    } catch {
      return undefined
    }
  }

  private setAccelerator(accelerator: Accel, reason: string): void {
    this.accelerator = accelerator
    this.status.accelerator = accelerator
    this.status.acceleratorReason = reason
  }

  private async startQemu(): Promise<void> {
    const network = this.network!
    // a disk made bigger in the config (dlite config set disk=N) grows before QEMU opens it; the guest follows
    if (await growSparseDisk(this.layout.disk, this.config.diskGiB)) this.options.log(`data disk grown to ${this.config.diskGiB} GiB`)
    const image = resolveCurrentImage(this.layout.images, this.config.image.current)
    // an image from before a contract change would boot without settings it no longer reads
    const contract = imageContractProblem(image.manifest)
    if (contract) throw new Error(`${contract}; then \`dlite update --os <that image>\``)
    const settingsPath = settingsBundlePath(this.layout)
    const settings = await guestSettings({
      config: this.config, network: network.guest, tlsDir: this.layout.tls, keysDir: this.layout.keys,
      shares: this.share.guestShares,
    })
    // The config may have been edited by hand since install checked it: the same rule again, before every boot.
    const problem = dockerdArgsProblem(this.config.extraArgs)
    if (problem) throw new Error(`the config's extra dockerd arguments are refused: ${problem.message}. Fix: ${problem.fix} (\`dlite config set extra=…\`)`)
    settings.dockerArgs = [...(settings.dockerArgs ?? []), ...(await this.hooks.dockerArgs(this.lifecycleEvent))]
    await writeSettingsBundle(settingsPath, settings)
    const backend = new QemuBackend({qmpSocket: qmpSocketPath(this.layout), migrationSocket: migrationSocketPath(this.layout)})
    const spec: MachineSpec = {
      name: `dlite-${this.names.homeId}`,
      // an aarch64 image runs qemu-system-aarch64 on virt (an Apple-silicon Mac: hvf), an x86_64 one q35
      arch: guestArchOf(image.manifest.arch),
      accel: this.accelerator,
      cpus: this.config.cpus,
      memoryMiB: this.config.memoryGiB * 1024,
      kernel: image.kernel,
      initrd: image.initrd,
      cmdline: kernelCmdlineFor(image.kernelCmdline, this.accelerator),
      rootImage: image.root,
      dataDisk: this.layout.disk,
      settingsFile: settingsPath,
      readinessLog: readinessLogPath(this.layout),
      guestControlSocket: guestControlSocketPath(this.layout),
      shareEventsSocket: shareEventsSocketPath(this.layout),
      net: network.qemu,
      inheritFds: network.inheritFds,
      shares: this.share.qemuShares,
      consoleLog: consoleLogPath(this.layout),
      log: qemuLogPath(this.layout),
    }
    const command = await backend.command(spec)
    this.stateIdentity = {
      qemu: qemuIdentity(which(command.binary) ?? command.binary),
      argv: sha256(JSON.stringify(machineArgs(command))),
      settings: sha256(JSON.stringify(settings)),
      imageVersion: this.config.image.current,
      hostBoot: currentHostBoot(),
    }
    this.resumeFrom = this.savedStateToResume(this.stateIdentity)
    const vm = await backend.start(spec, {
      incoming: this.resumeFrom !== undefined,
      // every launch, the first and each restart: a fresh virtiofsd (it exits with its QEMU), a fresh console log
      beforeLaunch: async () => {
        await this.share.ensureRunning()
        this.readiness.newBoot()
      },
    })
    this.superviseVm(vm)
    this.vm = vm
  }

  private superviseVm(vm: VmInstance): void {
    let pid: number | undefined
    const onSpawn = (spawned: number | undefined) => {
      pid = spawned
      if (pid === undefined) return
      void writeVmRecord(vmRecordPath(this.layout), pid, this.layout.disk).catch((error: Error) => this.options.log(`cannot record the VM process: ${error.message}`))
      void this.clock.connect()
      void this.shareEvents.connect()
      // a new QEMU runs: a pause went with the old one (the clock forgets it as it connects)
      this.pausedByUser = false
      this.status.pausedSince = undefined
    }
    // the first launch happened before these listeners: each restart's comes as an event
    onSpawn(vm.pid)
    vm.on('spawn', onSpawn)
    vm.on('exit', (info, willRestart: boolean) => {
      if (pid !== undefined) clearVmRecord(vmRecordPath(this.layout), pid)
      this.clock.disconnect()
      this.shareEvents.disconnect()
      const panic = this.readiness.kernelPanic()
      const why = `QEMU ${describeExit(info)}${panic ? ` after a guest kernel panic (${panic})` : ''}`
      this.options.log(`${why}${willRestart ? '; restarting' : ''}`)
      if (!willRestart) return
      this.status.lastRestart = `${why}; the VM was booted again (${new Date().toISOString()})`
      this.status.state = 'starting'
      this.status.dockerVersion = undefined
      void this.closePorts()
    })
    vm.on('restart', (attempt: number) => {
      this.options.log(`restarting QEMU (attempt ${attempt})`)
      void this.readiness.waitForGuest(this.accelerator)
        .then(() => this.readiness.waitForDocker(this.status.dockerEndpoint))
        .then(async (version) => {
          this.status.dockerVersion = version
          await this.forwardPorts()
          this.status.state = 'running'
          this.status.lastError = undefined // what went wrong went with the old QEMU (its share server among it)
          this.shareLost = false
          this.options.log('VM back after restart')
          return this.hooks.ready(this.readyEvent)
        }).catch((error: Error) => this.options.log(`restart did not come up: ${error.message}`))
    })
    vm.on('gave-up', (reason: string) => {
      this.status.state = 'failed'
      this.status.lastError = reason
      this.options.log(reason)
      this.readiness.abandon(new Error(reason))
      void this.stop()
    })
    vm.on('launch-error', (error: Error) => this.options.log(`could not relaunch QEMU: ${error.message}`))
    vm.on('hard-stop', (why: string) => this.options.log(`${why}; stopping QEMU hard`))
    // its clock stands still while it is paused: set it as it goes on, not at the next periodic push
    vm.on('paused', () => this.clock.paused())
    vm.on('resumed', () => this.clock.resumed())
  }

  /** The saved state, when it belongs to the VM about to launch; otherwise it goes, and the log says why. */
  private savedStateToResume(identity: StateIdentity): SavedStateRecord | undefined {
    if (this.savedStateConsidered) return undefined
    this.savedStateConsidered = true
    const paths = savedStatePaths(this.layout)
    const record = readSavedState(paths)
    if (record === undefined) {
      // a state without its record was never finished (a save cut short): it goes, unmentioned
      discardSavedState(paths)
      return undefined
    }
    let disk
    try {
      disk = diskIdentity(this.layout.disk)
    } catch {
      disk = undefined
    }
    const problem = typeof record === 'string' ? record : savedStateProblem(record, paths.state, identity, disk)
    if (problem === undefined) return record as SavedStateRecord
    this.giveUpSavedState(`the saved state was not used: ${problem}`)
    return undefined
  }

  /** A saved state that will not be resumed goes, and why is the status's and the log's. */
  private giveUpSavedState(why: string): void {
    discardSavedState(savedStatePaths(this.layout))
    this.status.coldBoot = why
    this.options.log(`${why}; booting cold`)
  }

  /**
   * Loads the saved state into the QEMU launched for it, checks it against its record, and lets the guest run on:
   * its clock set at once, its shares back. A state that does not load or does not match ends in a cold boot.
   */
  private async resumeSavedState(record: SavedStateRecord): Promise<string> {
    this.resumeFrom = undefined
    const paths = savedStatePaths(this.layout)
    const started = Date.now()
    const vm = this.vm!
    let loadedMs = 0
    try {
      const loaded = await vm.loadState(paths.state)
      if (loaded.bytes !== record.state.bytes || loaded.sha256 !== record.state.sha256) {
        throw new Error(`the state file does not match its record (sha256 ${loaded.sha256.slice(0, 12)}…, ${loaded.bytes} bytes; saved ${record.state.sha256.slice(0, 12)}…, ${record.state.bytes} bytes)`)
      }
      loadedMs = Date.now() - started
      // used once: a crash from here on boots cold
      discardSavedState(paths)
      await vm.resume()
      await vm.resumed()
    } catch (error) {
      this.giveUpSavedState(`the saved state could not be resumed: ${(error as Error).message}`)
      await vm.kill()
      await this.startQemu()
      return `${await this.bootWithFallback()} (a cold boot: ${this.status.coldBoot})`
    }
    // the guest's control agent listened when the state was saved; its clock stood still since
    await this.clock.connected()
    this.clock.guestListening()
    await this.askGuest('resumed').catch((error: Error) => {
      this.status.lastError = `the guest did not take up its shares again after the resume: ${error.message}`
      this.options.log(this.status.lastError)
    })
    this.status.resumedFrom = record.savedAt
    const mib = Math.round(record.state.bytes / 1024 / 1024)
    const seconds = (ms: number) => (ms / 1000).toFixed(2)
    this.options.log(`resume: ${mib} MiB loaded and checked in ${seconds(loadedMs)} s; the guest running with its shares ${seconds(Date.now() - started - loadedMs)} s later`)
    return `resumed the VM saved at ${new Date(record.savedAt).toLocaleTimeString()} (${mib} MiB) in ${((Date.now() - started) / 1000).toFixed(1)} s`
  }

  /** One request to the guest's control agent, answered on its readiness port; a refusal rejects with its reason. */
  private async askGuest(verb: 'prepare-save' | 'resumed'): Promise<void> {
    const id = String(++this.guestRequests)
    const answer = new Promise<void>((resolve, reject) => this.guestAnswers.set(id, {resolve, reject}))
    try {
      if (!this.clock.request(`${verb} ${id}`)) throw new Error('the guest\'s control agent is not listening')
      await withTimeout(answer, GUEST_SAVE_TIMEOUT_MS, `the guest did not answer ${verb} within ${GUEST_SAVE_TIMEOUT_MS / 1000} s (an OS image older than this dlite does not know it: dlite update)`)
    } finally {
      this.guestAnswers.delete(id)
    }
  }

  /**
   * A guest that stays silent under a hardware accelerator (a hypervisor that cannot run it after all) is
   * booted again under tcg rather than left hanging; under tcg a silent guest is a clear error.
   */
  private async bootWithFallback(): Promise<string> {
    try {
      return await this.readiness.waitForGuest(this.accelerator)
    } catch (error) {
      if (!(error instanceof SilentGuestError) || this.accelerator === 'tcg') throw error
      const failed = this.accelerator
      this.options.log(`${error.message}; booting again with tcg (software emulation)`)
      await this.vm!.kill()
      this.setAccelerator('tcg', `the guest showed no sign of life under ${failed}, so dlite fell back to software emulation`)
      await this.startQemu()
      return `${await this.readiness.waitForGuest(this.accelerator)} (after falling back from ${failed} to tcg)`
    }
  }

  private async exposeDockerSocket(): Promise<DockerSocket> {
    const tls = this.tlsEndpoint()
    if (tls.kind !== 'tls') throw new Error('unreachable')
    return serveDockerSocket({
      path: this.config.dockerSocket,
      // a root daemon lets the installing user's group use the socket; a user's daemon keeps it 0600
      gid: process.getuid?.() === 0 ? this.config.owner?.gid : undefined,
      target: {host: tls.host, port: tls.port},
      tls: {ca: tls.ca, cert: tls.cert, key: tls.key, servername: tls.servername},
      onError: (error) => this.options.log(`docker socket: ${error.message}`),
    })
  }

  /** Published container ports on the host's loopback, following docker's events. */
  private async forwardPorts(): Promise<string> {
    const vm = this.vm!
    const ports = new PortForwarder({
      docker: new DockerClient(this.tlsEndpoint(), 30_000),
      transport: this.network!.portTransport((commandLine) => vm.monitor(commandLine)),
      ipv6: await hostHasIpv6Loopback(),
      log: this.options.log,
    })
    await ports.start()
    this.ports = ports
    const {forwarded, failed} = ports.status()
    return `localhost${failed.length > 0 ? `; ${failed.length} could not be bound (dlite status)` : ''}${forwarded.length > 0 ? `; ${forwarded.length} forwarded` : ''}`
  }

  /** Closes the port forwards, bounded: a QEMU that no longer answers must not hold up a stop. */
  private async closePorts(): Promise<void> {
    const ports = this.ports
    this.ports = undefined
    await withTimeout(ports?.close() ?? Promise.resolve(), 10_000, 'closing the port forwards took over 10 s')
      .catch((error: Error) => this.options.log(`ports: ${error.message}`))
  }

  private async createContext(): Promise<string> {
    const result = await ensureDockerContext(this.status.dockerContext, this.config.dockerSocket, `dlite VM (${this.home})`, this.config.owner)
    if (!result.ok) return `skipped: ${result.reason}`
    return `${this.status.dockerContext} ${result.action}`
  }

  /** Idempotent; concurrent callers share one stop (the first one's `cold` holds). */
  stop(timeoutMs = CLEAN_STOP_TIMEOUT_MS, cold = false): Promise<StopOutcome> {
    this.stopping ??= this.doStop(timeoutMs, cold)
    return this.stopping
  }

  /** Why this stop powers the VM off rather than saving its state; undefined: it saves. */
  private saveRefusal(cold: boolean): string | undefined {
    if (this.status.state !== 'running' && !this.pausedByUser) return this.status.state === 'paused' ? 'QEMU had paused the guest (the host disk was full)' : `the VM was ${this.status.state}`
    if (cold) return 'asked to (--cold)'
    if (this.config.saveState === false) return 'save-state is off in the config'
    if (this.shareLost) return 'a share server had died: only a boot brings the share back'
    // the guest says its vmnet address as it takes its lease, once per boot: a resumed guest would not say it again
    if (this.network?.learnsAddress) return 'a vmnet VM learns its address at boot (not saved yet)'
    if (!this.stateIdentity || !this.vm) return 'nothing to save'
    return undefined
  }

  /**
   * Saves the running VM's state for the next start: the guest syncs and lets go of its shares, QEMU writes its
   * memory and devices, and quits. The record that makes the state usable is written last. A failure leaves the
   * guest running (the caller powers it off) and no state behind.
   */
  private async saveState(): Promise<SaveOutcome> {
    const vm = this.vm!
    const started = Date.now()
    const paths = savedStatePaths(this.layout)
    prepareSavedStateDir(paths)
    discardSavedState(paths)
    const partial = `${paths.state}.partial`
    await this.askGuest('prepare-save')
    const preparedMs = Date.now() - started
    let digest
    try {
      digest = await vm.saveState(partial)
    } catch (error) {
      rmSync(partial, {force: true})
      // the shares stay unmounted: the guest is about to power off
      await vm.resume().catch(() => {})
      throw error
    }
    await vm.quit()
    renameSync(partial, paths.state)
    const ms = Date.now() - started
    writeSavedStateRecord(paths, {format: 1, savedAt: Date.now(), saveMs: ms, state: digest, identity: this.stateIdentity!, dataDisk: diskIdentity(this.layout.disk)})
    this.options.log(`saved the VM's state (${Math.round(digest.bytes / 1024 / 1024)} MiB in ${(ms / 1000).toFixed(2)} s, of which the guest's preparation ${(preparedMs / 1000).toFixed(2)} s): the next start resumes it`)
    return {bytes: digest.bytes, ms}
  }

  private async doStop(timeoutMs: number, cold: boolean): Promise<StopOutcome> {
    const wasRunning = this.status.state === 'running' || this.status.state === 'paused'
    let poweredOff = this.saveRefusal(cold)
    if (this.pausedByUser) {
      // a guest the user paused powers off cleanly once it runs again
      await this.resume().catch((error: Error) => this.options.log(`cannot resume the paused guest to stop it cleanly: ${error.message}`))
    }
    // a guest QEMU paused (host disk full) cannot power itself off: waiting for it would only delay the stop
    if (this.status.state === 'paused') timeoutMs = Math.min(timeoutMs, 1000)
    // the guest's shutdown hangs unmounting a share whose server is gone, after docker and the data disk are done
    if (this.shareLost) timeoutMs = Math.min(timeoutMs, 30_000)
    this.status.state = 'stopping'
    // a start in progress ends here: its waits reject, and no later stage runs (startVm checks this.stopping).
    // A save still needs the guest's answers (readiness) and its control port (the clock's connection).
    if (poweredOff !== undefined) this.readiness.stop()
    this.pausedWatch.stop()
    if (poweredOff !== undefined) this.clock.stop()
    this.shareEvents.stop()
    if (wasRunning) await this.hooks.notify(HOOKS.vmStopping, this.lifecycleEvent)
    await this.closePorts()
    await this.dockerSocket?.close()
    let saved: SaveOutcome | undefined
    if (poweredOff === undefined && this.vm?.pid !== undefined) {
      saved = await this.saveState().catch((error: Error) => {
        poweredOff = `the state could not be saved: ${error.message}`
        this.options.log(`${poweredOff}; powering the VM off`)
        return undefined
      })
      this.readiness.stop()
      this.clock.stop()
    }
    if (!saved && this.vm?.pid !== undefined) {
      await this.vm.powerDown(timeoutMs)
      this.options.log('QEMU stopped')
    }
    this.share.stop()
    await this.driver.tearDown().catch((error: Error) => this.options.log(error.message))
    await this.hooks.notify(HOOKS.vmStopped, this.lifecycleEvent)
    this.status.state = 'stopped'
    const outcome: StopOutcome = saved ? {saved} : (wasRunning && poweredOff ? {poweredOff} : {})
    this.stages.broadcast({type: 'stopped', ...outcome})
    for (const reply of this.stopRequesters) reply({type: 'stopped', ...outcome})
    await this.control?.close()
    rmSync(settingsBundlePath(this.layout), {force: true})
    this.releaseLock?.()
    this.onStopped()
    return outcome
  }
}

/** This boot of the host; where it cannot be read, a value no other start matches (its state is never resumed). */
function currentHostBoot(): string {
  try {
    return hostBootId()
  } catch {
    return `unknown-${randomUUID()}`
  }
}
