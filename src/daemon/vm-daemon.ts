// The dlite daemon: owns one VM for one DLITE_HOME. It sets up the host network, starts virtiofsd and QEMU,
// waits for the guest's dockerd over TLS, exposes the host docker socket and the docker context, fires the
// plugins' lifecycle hooks, supervises QEMU, and answers the CLI on the control socket. `stop` (from the CLI
// or SIGTERM) undoes all of it.
import {spawn, type ChildProcess} from 'node:child_process'
import {closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {readConfig, type DliteConfig} from '../config/index.js'
import {contextName, ensureDockerContext, removeDockerContext} from '../docker/context.js'
import {DockerClient, type DockerEndpoint} from '../docker/client.js'
import {isDockerArg, writeSettingsBundle} from '../guest/settings.js'
import {tlsPaths} from '../guest/tls.js'
import {guestSettings} from './guest-settings.js'
import {chooseAccelerator} from '../host/accelerator.js'
import {loadNative} from '../host/native.js'
import {buildQemuArgv} from '../hypervisor/qemu-argv.js'
import {findVirtiofsd} from '../hypervisor/qemu-binary.js'
import {QmpClient, withTimeout} from '../hypervisor/qmp.js'
import {resolveCurrentImage} from '../image/index.js'
import {networkNames, homeId} from '../network/names.js'
import {parseSubnet} from '../network/subnet.js'
import {defaultHome, dliteHome, homeLayout, type HomeLayout} from '../paths.js'
import {HOOKS, type GuestConfig, type PluginRequestEvent, type VmLifecycleEvent, type VmReadyEvent} from '../plugin-api/index.js'
import {which} from '../util/exec.js'
import {ConsoleWatcher, type GuestMarker} from '../vm/console-watch.js'
import {describeExit, Supervisor, DEFAULT_SUPERVISION} from '../vm/supervisor.js'
import {serveControl, type ControlServer} from './control-server.js'
import {CLEAN_STOP_TIMEOUT_MS, type ControlRequest, type ControlResponse, type StageEvent, type StageName, type VmStatus} from './control-protocol.js'
import {serveDockerSocket, type DockerSocket} from './docker-socket.js'
import {setUpHostNetwork, tearDownHostNetwork, type HostNetwork, type HostNetworkSpec} from './host-network.js'
import {peerCheck} from './peer-check.js'
import {acquirePidLock} from './pid-lock.js'
import {consoleLogPath, controlSocketPath, pidFilePath, previousConsoleLogPath} from './daemon-paths.js'

export const DOCKER_TLS_PORT = 2376
/** A guest that never became ready seldom powers off by itself: a failed start waits less for it. */
const FAILED_START_STOP_TIMEOUT_MS = 30_000

/** One plugin's answer to a hook: what its handler returned, or the message of what it threw. */
export type HookResult = {plugin: string; result: unknown; error?: undefined} | {plugin: string; result?: undefined; error: string}

export interface DaemonOptions {
  home?: string
  hostsFile?: string
  /** Seconds to wait for docker to answer after QEMU starts. */
  bootTimeoutS?: number
  /** Seconds without any console output before the boot watchdog acts. */
  watchdogS?: number
  /** Fires a plugin hook; resolves with each plugin's defined result or error. A failing plugin is logged, not thrown. */
  fireHook: (event: string, payload: VmLifecycleEvent | VmReadyEvent | PluginRequestEvent) => Promise<HookResult[]>
  log: (line: string) => void
}

type Listener = (message: ControlResponse) => void

export class VmDaemon {
  readonly layout: HomeLayout
  readonly config: DliteConfig
  private readonly names
  private readonly subnet
  private readonly status: VmStatus
  private readonly history: StageEvent[] = []
  private readonly watchers = new Set<Listener>()
  private control?: ControlServer
  private network?: HostNetwork
  private networkSpec?: HostNetworkSpec
  private virtiofsd?: ChildProcess
  private supervisor?: Supervisor
  private dockerSocket?: DockerSocket
  private releaseLock?: () => void
  private stopping?: Promise<void>
  private accelerator: 'kvm' | 'hvf' | 'tcg' = 'tcg'
  private readonly home: string

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
    this.status = {
      state: 'starting',
      pid: process.pid,
      ip: this.subnet.vmIp,
      hostname: this.config.hostname,
      dockerSocket: this.config.dockerSocket,
      dockerEndpoint: `tcp://${this.subnet.vmIp}:${DOCKER_TLS_PORT}`,
      dockerContext: contextName(this.home === defaultHome(), homeId(this.home)),
      restarts: 0,
      imageVersion: this.config.image.current,
    }
  }

  private get lifecycleEvent(): VmLifecycleEvent {
    return {
      home: this.home, ip: this.subnet.vmIp, hostname: this.config.hostname, subnet: this.subnet.cidr,
      hostIp: this.subnet.hostIp, bridge: this.names.bridge,
    }
  }

  private tlsEndpoint(): DockerEndpoint {
    const tls = tlsPaths(this.layout.tls)
    return {
      kind: 'tls', host: this.subnet.vmIp, port: DOCKER_TLS_PORT,
      ca: readFileSync(tls.ca), cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey),
    }
  }

  private broadcast(message: ControlResponse): void {
    for (const listener of this.watchers) listener(message)
  }

  private stage(stage: StageName, status: StageEvent['status'], detail?: string): void {
    const event: StageEvent = {type: 'stage', stage, status, detail, at: Date.now()}
    this.history.push(event)
    this.options.log(`stage ${stage} ${status}${detail ? `: ${detail}` : ''}`)
    this.broadcast(event)
  }

  private async runStage<T>(stage: StageName, work: () => Promise<T>, detail?: (value: T) => string | undefined): Promise<T> {
    this.stage(stage, 'start')
    try {
      const value = await work()
      this.stage(stage, 'done', detail?.(value))
      return value
    } catch (error) {
      this.stage(stage, 'fail', (error as Error).message)
      throw error
    }
  }

  /** Runs until stopped; resolves when the VM is down and everything is cleaned up. */
  async run(): Promise<void> {
    for (const dir of [this.layout.run, this.layout.logs]) mkdirSync(dir, {recursive: true, mode: 0o755})
    this.releaseLock = acquirePidLock(pidFilePath(this.layout))
    const native = loadNative()
    const owner = this.config.owner
    this.control = await serveControl(controlSocketPath(this.layout), (request, reply) => this.onRequest(request, reply), {
      checkPeer: peerCheck(native.peerCredentials, owner ? [process.getuid?.() ?? 0, owner.uid] : [process.getuid?.() ?? 0]),
      gid: owner?.gid,
    })
    const stopped = new Promise<void>((resolve) => {
      const onSignal = () => {
        void this.stop().then(resolve)
      }
      process.once('SIGTERM', onSignal)
      process.once('SIGINT', onSignal)
      this.onStopped = resolve
    })
    try {
      await this.startVm()
      this.status.state = 'running'
      this.status.readyAt = Date.now()
      this.broadcast({type: 'ready', status: this.snapshot()})
      this.watchers.clear() // each watcher is done once the start is decided
    } catch (error) {
      this.status.state = 'failed'
      this.status.lastError = (error as Error).message
      this.options.log(`start failed: ${this.status.lastError}`)
      this.broadcast({type: 'failed', error: this.status.lastError, status: this.snapshot()})
      this.watchers.clear()
      await this.stop(FAILED_START_STOP_TIMEOUT_MS)
    }
    await stopped
  }

  private onStopped: () => void = () => {}

  private snapshot(): VmStatus {
    return {...this.status, restarts: this.supervisor?.restarts ?? 0, qemuPid: this.supervisor?.current?.pid}
  }

  private onRequest(request: ControlRequest, reply: Listener): void {
    switch (request.op) {
      case 'status':
        reply({type: 'status', status: this.snapshot()})
        return
      case 'watch': {
        for (const event of this.history) reply(event)
        if (this.status.state === 'running') {
          reply({type: 'ready', status: this.snapshot()})
          return
        }
        if (this.status.state === 'failed') {
          reply({type: 'failed', error: this.status.lastError ?? 'start failed', status: this.snapshot()})
          return
        }
        this.watchers.add(reply)
        return
      }
      case 'stop':
        void this.stop(request.timeoutMs).then(() => reply({type: 'stopped'}))
        return
      case 'plugin':
        void this.pluginRequest(request.plugin, request.request).then(
          (result) => reply({type: 'plugin', result}),
          (error: Error) => reply({type: 'error', error: error.message}),
        )
        return
      default:
        reply({type: 'error', error: `unknown request ${(request as {op: string}).op}`})
    }
  }

  private get readyEvent(): VmReadyEvent {
    return {...this.lifecycleEvent, docker: {kind: 'unix', socketPath: this.config.dockerSocket}}
  }

  private async pluginRequest(plugin: string, request: unknown): Promise<unknown> {
    if (this.status.state !== 'running') throw new Error(`the VM is ${this.status.state}; start it with \`dlite start\``)
    const results = await this.options.fireHook(HOOKS.pluginRequest, {...this.readyEvent, plugin, request})
    const answer = results.find((r) => r.plugin === plugin)
    if (!answer) throw new Error(`plugin ${plugin} did not answer in the daemon: restart dlite after installing it (\`dlite stop && dlite start\`)`)
    if (answer.error !== undefined) throw new Error(answer.error)
    return answer.result
  }

  /** dockerd arguments that plugins add for the coming boot (dlite:guest-config). */
  private async pluginDockerArgs(): Promise<string[]> {
    const dockerArgs: string[] = []
    for (const {plugin, result} of await this.options.fireHook(HOOKS.guestConfig, this.lifecycleEvent)) {
      const args = (result as GuestConfig | undefined)?.dockerArgs
      if (args === undefined) continue
      // A plugin's bad argument must not fail the boot (the settings bundle refuses empty or spaced ones).
      if (args.every(isDockerArg)) dockerArgs.push(...args)
      else this.options.log(`plugin ${plugin}: ignoring dockerArgs that are not single --flag=value words`)
    }
    return dockerArgs
  }

  private async startVm(): Promise<void> {
    this.status.startedAt = Date.now()
    const native = loadNative()
    this.networkSpec = {
      names: this.names, subnet: this.subnet, hostname: this.config.hostname,
      hostsFile: this.options.hostsFile ?? '/etc/hosts', openTap: (name) => native.openTap(name).fd,
    }
    this.network = await this.runStage('network', () => setUpHostNetwork(this.networkSpec!),
      () => `${this.names.bridge} ${this.subnet.hostIp}/${this.subnet.prefix}, ${this.subnet.vmIp} ${this.config.hostname}`)

    const share = await this.runStage('share', async () => this.startVirtiofsd(), (s) => s)

    const choice = chooseAccelerator(native.probe(), this.config.accel)
    this.accelerator = choice.accelerator
    this.status.accelerator = choice.accelerator
    this.status.acceleratorReason = choice.reason
    // The full reason is in `dlite status` and `dlite doctor`; the stage line stays short.
    const accelNote = choice.fallback ? `${this.accelerator} (${choice.hardware?.name ?? 'hardware acceleration'} not usable here; see dlite doctor)` : this.accelerator
    await this.runStage('vm', () => this.startQemu(share === 'virtiofs'), () => accelNote)
    await this.runStage('boot', () => this.bootWithFallback(share === 'virtiofs'), (s) => s)
    await this.runStage('docker', () => this.waitForDocker(), (v) => `docker ${v}`)
    this.dockerSocket = await this.runStage('socket', () => this.exposeDockerSocket(), () => this.config.dockerSocket)
    await this.runStage('context', () => this.createContext(), (s) => s)
    // A failing plugin does not fail the start, but the user sees it in the pipeline, not only in the log.
    await this.runStage('plugins', () => this.options.fireHook(HOOKS.vmReady, this.readyEvent), (results) => {
      const failed = results.filter((r) => r.error !== undefined)
      return failed.length > 0 ? `${failed.map((r) => `${r.plugin} failed: ${r.error}`).join('; ')} (dlite logs)` : undefined
    })
  }

  private async startVirtiofsd(): Promise<string> {
    // DLITE_SHARE_TRANSPORT=9p: the slower fallback on purpose, to compare the two (bench file-sharing)
    if (process.env.DLITE_SHARE_TRANSPORT === '9p') return '9p (DLITE_SHARE_TRANSPORT=9p)'
    const binary = findVirtiofsd(which)
    if (!binary) return '9p (virtiofsd not found)'
    const socket = join(this.layout.run, 'virtiofs.sock')
    rmSync(socket, {force: true})
    const log = openSync(join(this.layout.logs, 'virtiofsd.log'), 'a')
    this.virtiofsd = spawn(binary, [`--socket-path=${socket}`, '-o', `source=${this.config.share}`, '-o', 'cache=auto'], {
      stdio: ['ignore', log, log],
    })
    closeSync(log)
    await waitFor(() => existsOrDead(socket, this.virtiofsd!), 10_000, 'virtiofsd did not open its socket')
    return 'virtiofs'
  }

  private consoleWatcher?: ConsoleWatcher
  private guestReady?: () => void
  private guestFailed?: (error: Error) => void

  private async startQemu(virtiofs: boolean): Promise<void> {
    const image = resolveCurrentImage(this.layout.images, this.config.image.current)
    const settingsPath = join(this.layout.run, 'settings.tar')
    const settings = await guestSettings({
      config: this.config, subnet: this.subnet, tlsDir: this.layout.tls, keysDir: this.layout.keys,
      shareTransport: virtiofs ? 'virtiofs' : '9p',
    })
    settings.dockerArgs = [...(settings.dockerArgs ?? []), ...(await this.pluginDockerArgs())]
    await writeSettingsBundle(settingsPath, settings)
    const consoleLog = consoleLogPath(this.layout)
    const {binary, args: argv} = buildQemuArgv({
      accel: this.accelerator,
      cpus: this.config.cpus,
      memoryMiB: this.config.memoryGiB * 1024,
      kernel: image.kernel,
      initrd: image.initrd,
      cmdline: image.kernelCmdline,
      rootImage: image.root,
      dataDisk: {path: this.layout.disk, format: 'raw', discard: true},
      settingsFile: settingsPath,
      net: {type: 'tap', fd: 3},
      share: virtiofs
        ? {type: 'virtiofs', socketPath: join(this.layout.run, 'virtiofs.sock')}
        : {type: '9p', path: this.config.share},
      qmpSocket: join(this.layout.run, 'qmp.sock'),
      serialLog: consoleLog,
      name: `dlite-${this.names.homeId}`,
    })
    this.consoleWatcher = new ConsoleWatcher(consoleLog, previousConsoleLogPath(this.layout), (marker) => this.onMarker(marker))
    this.consoleWatcher.start()
    const qemuLog = join(this.layout.logs, 'qemu.log')
    this.supervisor = new Supervisor(async () => {
      // virtiofsd serves one QEMU and exits with it: a restarted QEMU needs a fresh one.
      if (virtiofs && !childAlive(this.virtiofsd)) await this.startVirtiofsd()
      const log = openSync(qemuLog, 'a')
      this.consoleWatcher?.startNewBoot()
      try {
        return spawn(binary, argv, {stdio: ['ignore', log, log, this.network!.tapFd]})
      } finally {
        closeSync(log)
      }
    }, DEFAULT_SUPERVISION)
    this.supervisor.on('exit', (info, willRestart: boolean) => {
      this.options.log(`QEMU ${describeExit(info)}${willRestart ? '; restarting' : ''}`)
      if (!willRestart) return
      this.status.state = 'starting'
      this.status.dockerVersion = undefined
    })
    this.supervisor.on('restart', (attempt: number) => {
      this.options.log(`restarting QEMU (attempt ${attempt})`)
      void this.waitForGuest().then(() => this.waitForDocker()).then(() => {
        this.status.state = 'running'
        this.status.restarts = this.supervisor?.restarts ?? 0
        this.options.log('VM back after restart')
        return this.options.fireHook(HOOKS.vmReady, this.readyEvent)
      }).catch((error: Error) => this.options.log(`restart did not come up: ${error.message}`))
    })
    this.supervisor.on('gave-up', (reason: string) => {
      this.status.state = 'failed'
      this.status.lastError = reason
      this.options.log(reason)
      this.guestFailed?.(new Error(reason))
      void this.stop()
    })
    this.supervisor.on('launch-error', (error: Error) => this.options.log(`could not relaunch QEMU: ${error.message}`))
    await this.supervisor.start()
  }

  private onMarker(marker: GuestMarker): void {
    this.options.log(`guest: DLITE-${marker.kind} ${marker.text}${marker.uptime === undefined ? '' : ` (${marker.uptime}s)`}`)
    if (marker.kind === 'READY' && marker.text === 'docker') this.guestReady?.()
    if (marker.kind === 'FAIL') this.options.log(`guest reported a failure: ${marker.text}`)
  }

  /**
   * A guest that stays silent under a hardware accelerator (a hypervisor that cannot run it after all) is
   * booted again under tcg rather than left hanging; under tcg a silent guest is a clear error.
   */
  private async bootWithFallback(virtiofs: boolean): Promise<string> {
    try {
      return await this.waitForGuest()
    } catch (error) {
      if (!(error instanceof SilentGuestError) || this.accelerator === 'tcg') throw error
      const failed = this.accelerator
      this.options.log(`${error.message}; booting again with tcg (software emulation)`)
      this.supervisor!.expectExit()
      this.supervisor!.current?.kill('SIGKILL')
      await this.supervisor!.waitForExit()
      this.consoleWatcher?.stop()
      this.accelerator = 'tcg'
      this.status.accelerator = 'tcg'
      this.status.acceleratorReason = `the guest showed no sign of life under ${failed}, so dlite fell back to software emulation`
      await this.startQemu(virtiofs)
      return `${await this.waitForGuest()} (after falling back from ${failed} to tcg)`
    }
  }

  /** What the guest said last (and its last complaint), for a boot that timed out. */
  private lastWords(): string {
    const show = (m: GuestMarker) => `DLITE-${m.kind} ${m.text}${m.uptime === undefined ? '' : ` ${m.uptime}`}`
    const said = [this.consoleWatcher?.lastProblem, this.consoleWatcher?.lastMarker].filter((m, i, all): m is GuestMarker => m !== undefined && all.indexOf(m) === i)
    return said.length === 0 ? '' : ` (last from the guest: ${said.map(show).join('; ')})`
  }

  /** Resolves when the guest says docker is ready; a silent guest trips the watchdog. */
  private waitForGuest(): Promise<string> {
    const timeoutS = this.options.bootTimeoutS ?? 180
    const watchdogS = this.options.watchdogS ?? 30
    const started = Date.now()
    return new Promise<string>((resolve, reject) => {
      const watchdog = setTimeout(() => {
        if (this.consoleWatcher?.sawOutput) return
        finish(new SilentGuestError(`the guest showed no sign of life within ${watchdogS} s (accelerator ${this.accelerator}); see ${consoleLogPath(this.layout)}`))
      }, watchdogS * 1000)
      const timeout = setTimeout(() => finish(new Error(`the guest did not report docker ready within ${timeoutS} s${this.lastWords()}; see ${consoleLogPath(this.layout)}`)), timeoutS * 1000)
      const finish = (error?: Error) => {
        clearTimeout(watchdog)
        clearTimeout(timeout)
        this.guestReady = undefined
        this.guestFailed = undefined
        if (error) reject(error)
        else resolve(`${((Date.now() - started) / 1000).toFixed(1)} s`)
      }
      this.guestReady = () => finish()
      this.guestFailed = finish
    })
  }

  private async waitForDocker(): Promise<string> {
    const client = new DockerClient(this.tlsEndpoint(), 5000)
    const deadline = Date.now() + 60_000
    let lastError = ''
    while (Date.now() < deadline) {
      try {
        const version = await client.version()
        this.status.dockerVersion = version.Version
        return version.Version
      } catch (error) {
        lastError = (error as Error).message
      }
      await sleep(250)
    }
    throw new Error(`docker did not answer over TLS at ${this.status.dockerEndpoint}: ${lastError}`)
  }

  private async exposeDockerSocket(): Promise<DockerSocket> {
    const tls = this.tlsEndpoint()
    if (tls.kind !== 'tls') throw new Error('unreachable')
    return serveDockerSocket({
      path: this.config.dockerSocket,
      gid: this.config.owner?.gid, // the installing user's group may use the socket
      target: {host: tls.host, port: tls.port},
      tls: {ca: tls.ca, cert: tls.cert, key: tls.key},
      onError: (error) => this.options.log(`docker socket: ${error.message}`),
    })
  }

  private async createContext(): Promise<string> {
    const result = await ensureDockerContext(this.status.dockerContext, this.config.dockerSocket, `dlite VM (${this.home})`, this.config.owner)
    if (!result.ok) return `skipped: ${result.reason}`
    return `${this.status.dockerContext} ${result.action}`
  }

  /** Idempotent; concurrent callers share one stop. */
  stop(timeoutMs = CLEAN_STOP_TIMEOUT_MS): Promise<void> {
    this.stopping ??= this.doStop(timeoutMs)
    return this.stopping
  }

  private async doStop(timeoutMs: number): Promise<void> {
    const wasRunning = this.status.state === 'running'
    this.status.state = 'stopping'
    if (wasRunning) await this.options.fireHook(HOOKS.vmStopping, this.lifecycleEvent).catch((error: Error) => this.options.log(`vm-stopping hook: ${error.message}`))
    await this.dockerSocket?.close()
    if (this.supervisor?.current) {
      this.supervisor.expectExit()
      await this.powerDown(timeoutMs)
    }
    this.consoleWatcher?.stop()
    this.virtiofsd?.kill('SIGTERM')
    if (this.networkSpec) {
      await tearDownHostNetwork(this.networkSpec, this.network).catch((error: Error) => this.options.log(error.message))
    }
    await this.options.fireHook(HOOKS.vmStopped, this.lifecycleEvent).catch((error: Error) => this.options.log(`vm-stopped hook: ${error.message}`))
    this.status.state = 'stopped'
    this.broadcast({type: 'stopped'})
    await this.control?.close()
    rmSync(join(this.layout.run, 'settings.tar'), {force: true})
    this.releaseLock?.()
    this.onStopped()
  }

  /** ACPI power button, then a hard stop when the guest does not power off in time. */
  private async powerDown(timeoutMs: number): Promise<void> {
    const exited = this.supervisor!.waitForExit()
    try {
      const qmp = await QmpClient.connect(join(this.layout.run, 'qmp.sock'), 3000)
      await qmp.execute('system_powerdown')
      await withTimeout(exited, timeoutMs, 'the guest did not power off in time')
      qmp.close()
      this.options.log('guest powered off')
      return
    } catch (error) {
      this.options.log(`${(error as Error).message}; stopping QEMU hard`)
    }
    this.supervisor!.current?.kill('SIGKILL')
    await exited
  }
}

/** The boot watchdog's verdict: not one byte on the console. */
class SilentGuestError extends Error {}

function childAlive(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function existsOrDead(path: string, child: ChildProcess): boolean {
  if (child.exitCode !== null) throw new Error(`virtiofsd exited with code ${child.exitCode}`)
  return existsSync(path)
}

async function waitFor(check: () => boolean, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(message)
    await sleep(50)
  }
}
