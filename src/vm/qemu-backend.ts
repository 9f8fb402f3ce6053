// The QEMU backend: argv from hypervisor/qemu-argv.ts, the process under a Supervisor (restarts with back-off),
// one QMP connection per running QEMU for power-down and monitor commands, saving the VM's state to a file and
// loading it back.
import {spawn, type ChildProcess} from 'node:child_process'
import {EventEmitter} from 'node:events'
import {closeSync} from 'node:fs'

import {dieWithParent} from '../host/parent-death.js'
import {withCallerUmask} from '../host/umask.js'
import {openLogForAppend} from '../util/append-log.js'
import {buildQemuArgv, virtiofsDeviceAdds, virtiofsDeviceIds, type QemuCommand} from '../hypervisor/qemu-argv.js'
import {QmpClient, QmpTransportError, withTimeout, type QmpEvent} from '../hypervisor/qmp.js'
import {qemuHasSandbox} from '../hypervisor/qemu-sandbox.js'
import type {MachineSpec, StartOptions, VmBackend, VmInstance, VmRunState} from './backend.js'
import {receiveState, sendState} from './state-stream.js'
import {DEFAULT_SUPERVISION, Supervisor, type SupervisorOptions} from './supervisor.js'

/** QEMU's command line for a machine: the sparse data disk with discard, the console log, one QMP socket. */
export function qemuCommand(spec: MachineSpec, qmpSocket: string, sandbox = false, incoming = false): QemuCommand {
  const {dataDisk, consoleLog, readinessLog, guestControlSocket, shareEventsSocket, inheritFds: _fds, log: _log, ...machine} = spec
  return buildQemuArgv({
    ...machine, sandbox, dataDisk: {path: dataDisk, format: 'raw', discard: true}, qmpSocket, serialLog: consoleLog,
    readiness: {type: 'file', path: readinessLog}, guestControlSocket, shareEventsSocket, incoming,
  })
}

/**
 * The part of a command line a saved state depends on: all of it but the host ends of user-mode port forwards
 * (fresh free ports at every start), which the guest never sees and a restored QEMU takes as given.
 */
export function machineArgs(command: QemuCommand): string[] {
  return [command.binary, ...command.args.map((arg) => arg.startsWith('user,') ? arg.replaceAll(/,hostfwd=[^,]+/g, '') : arg)]
}

/** Where a saved state goes through on its way to and from QEMU: a unix socket in the home's run directory. */
export interface QemuBackendOptions {
  qmpSocket: string
  migrationSocket: string
  supervision?: SupervisorOptions
}

/** No cap: QEMU's default (about 32 MiB/s in 7.2) made an idle guest's save take 2.7 s instead of 0.2 s. */
const UNCAPPED_BANDWIDTH = 2 ** 40
const MIGRATION_POLL_MS = 50
const MIGRATION_TIMEOUT_MS = 120_000

export class QemuBackend implements VmBackend {
  readonly name = 'qemu'
  readonly capabilities = {
    accelerators: ['kvm', 'hvf', 'tcg'],
    shareTransports: ['virtiofs', '9p'],
    networkModes: ['user', 'bridged'],
  } as const

  constructor(private readonly options: QemuBackendOptions) {}

  /** QEMU's command line for a cold boot of this machine: what a saved state is checked against. */
  async command(spec: MachineSpec): Promise<QemuCommand> {
    return qemuCommand(spec, this.options.qmpSocket, await qemuHasSandbox(qemuCommand(spec, this.options.qmpSocket).binary))
  }

  async start(spec: MachineSpec, startOptions: StartOptions = {}): Promise<VmInstance> {
    // the seccomp sandbox wherever this QEMU has one
    const sandbox = await qemuHasSandbox(qemuCommand(spec, this.options.qmpSocket).binary)
    const instance = new QemuInstance(spec, {...this.options, ...startOptions, sandbox})
    await instance.launch()
    return instance
  }
}

class QemuInstance extends EventEmitter implements VmInstance {
  private readonly supervisor: Supervisor
  private qmp?: Promise<QmpClient>
  /** Set while a first launch waits for its saved state: the supervisor must not restart it meanwhile. */
  private supervisorExpectsExit = false
  private readonly eventListeners = new Set<(event: QmpEvent) => void>()

  constructor(private readonly spec: MachineSpec, private readonly options: StartOptions & QemuBackendOptions & {sandbox: boolean}) {
    super()
    // QEMU dies with the daemon (a daemon killed by SIGKILL must not leave its VM running unseen)
    const cold = dieWithParent(qemuCommand(spec, options.qmpSocket, options.sandbox))
    // only the first launch waits for a saved state: a QEMU that exits after the resume boots cold again
    let next = options.incoming ? dieWithParent(qemuCommand(spec, options.qmpSocket, options.sandbox, true)) : cold
    // a resume that fails is the daemon's to answer (a cold boot of its own), not a restart's
    if (options.incoming) this.supervisorExpectsExit = true
    this.supervisor = new Supervisor(async () => {
      await options.beforeLaunch?.()
      this.dropQmp()
      const {binary, args} = next
      next = cold
      const log = openLogForAppend(spec.log)
      try {
        // the share server's files get the user's own modes (src/host/umask.ts)
        return withCallerUmask(() => spawn(binary, args, {stdio: ['ignore', log, log, ...spec.inheritFds]}))
      } finally {
        closeSync(log)
      }
    }, options.supervision ?? DEFAULT_SUPERVISION)
    this.supervisor.on('spawn', (child: ChildProcess) => this.emit('spawn', child.pid))
    for (const event of ['exit', 'restart', 'gave-up', 'launch-error']) {
      this.supervisor.on(event, (...args: unknown[]) => this.emit(event, ...args))
    }
    // the monitor went with the process: a command for the next one must not wait on the old connection
    this.supervisor.on('exit', () => this.dropQmp())
  }

  async launch(): Promise<void> {
    await this.supervisor.start()
    if (this.supervisorExpectsExit) this.supervisor.expectExit()
  }

  /** The running QEMU's pid; undefined once it exited (during a restart's back-off, too). */
  get pid(): number | undefined {
    const current = this.supervisor.current
    return current && current.exitCode === null && current.signalCode === null ? current.pid : undefined
  }

  get restarts(): number {
    return this.supervisor.restarts
  }

  waitForExit(): Promise<void> {
    return this.supervisor.waitForExit()
  }

  private connectQmp(): Promise<QmpClient> {
    if (this.supervisor.current?.exitCode !== null || this.supervisor.current?.signalCode !== null) {
      return Promise.reject(new QmpTransportError('QEMU is not running'))
    }
    this.qmp ??= QmpClient.connect(this.options.qmpSocket, 3000).then((client) => {
      client.onEvent((event) => {
        if (event.event === 'STOP') this.emit('paused')
        else if (event.event === 'RESUME') this.emit('resumed')
        for (const listener of this.eventListeners) listener(event)
      })
      return client
    }, (error: Error) => {
      this.qmp = undefined
      throw error
    })
    return this.qmp
  }

  private dropQmp(): void {
    void this.qmp?.then((client) => client.close(), () => {})
    this.qmp = undefined
  }

  async monitor(commandLine: string): Promise<string> {
    return String(await this.qmpCommand('human-monitor-command', {'command-line': commandLine}) ?? '')
  }

  async runState(): Promise<VmRunState> {
    const state = await this.qmpCommand('query-status') as {running: boolean; status: string}
    return {running: state.running, status: state.status}
  }

  async pause(): Promise<void> {
    await this.qmpCommand('stop')
  }

  async resume(): Promise<void> {
    await this.qmpCommand('cont')
  }

  /** One QMP command; a broken connection is made again on the next call, a command QEMU refused leaves it usable. */
  private async qmpCommand(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const qmp = await this.connectQmp()
    try {
      return await qmp.execute(command, args)
    } catch (error) {
      if (error instanceof QmpTransportError) this.dropQmp()
      throw error
    }
  }

  /**
   * Saves the guest's memory and devices to the file `toFile` and leaves QEMU paused, done (the caller then quits
   * it). The virtiofs devices are unplugged first (QEMU cannot save them): the guest must have unmounted them. A
   * failed save leaves the guest paused: the caller resumes it and powers it off.
   */
  async saveState(toFile: string): Promise<{bytes: number; sha256: string}> {
    for (const id of virtiofsDeviceIds(this.spec)) await this.unplug(id)
    // paused first: one pass over a guest that stands still. A live migration of a running guest (for the balloon's
    // free page hints) saved a guest that panicked as it resumed under TCG, in one run of three here.
    await this.qmpCommand('stop')
    await this.qmpCommand('migrate-set-parameters', {'max-bandwidth': UNCAPPED_BANDWIDTH})
    const received = await receiveState(this.options.migrationSocket, toFile)
    try {
      await this.qmpCommand('migrate', {uri: `unix:${this.options.migrationSocket}`})
      await this.migrationDone()
      return await withTimeout(received.done, 30_000, 'the saved state was not all written within 30 s of QEMU finishing it')
    } finally {
      received.close()
    }
  }

  /**
   * Feeds a saved state to a QEMU started with `incoming` and waits until it has loaded it; the guest is left
   * paused (resume() lets it go on, once the caller has checked what was sent against its record).
   */
  async loadState(fromFile: string): Promise<{bytes: number; sha256: string}> {
    await this.monitorReady()
    await this.qmpCommand('migrate-incoming', {uri: `unix:${this.options.migrationSocket}`})
    const sent = await sendState(this.options.migrationSocket, fromFile)
    const deadline = Date.now() + MIGRATION_TIMEOUT_MS
    for (;;) {
      const {status} = await this.runState()
      if (status !== 'inmigrate') break
      if (Date.now() > deadline) throw new Error(`QEMU had not loaded the saved state within ${MIGRATION_TIMEOUT_MS / 1000} s`)
      await sleep(MIGRATION_POLL_MS)
    }
    return sent
  }

  /** After a resume: the virtiofs devices back in, and the supervisor restarts a QEMU that exits from now on. */
  async resumed(): Promise<void> {
    for (const device of virtiofsDeviceAdds(this.spec)) await this.qmpCommand('device_add', device)
    if (this.supervisorExpectsExit) {
      this.supervisorExpectsExit = false
      this.supervisor.superviseAgain()
    }
  }

  /** A QEMU just launched makes its QMP socket a moment later: asked at once, it is not there yet. */
  private async monitorReady(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      try {
        await this.connectQmp()
        return
      } catch (error) {
        if (Date.now() > deadline || this.pid === undefined) throw error
        await sleep(MIGRATION_POLL_MS)
      }
    }
  }

  private async unplug(id: string): Promise<void> {
    const deleted = new Promise<void>((resolve) => {
      const listener = (event: QmpEvent) => {
        if (event.event !== 'DEVICE_DELETED' || (event.data as {device?: string} | undefined)?.device !== id) return
        this.eventListeners.delete(listener)
        resolve()
      }
      this.eventListeners.add(listener)
    })
    await this.qmpCommand('device_del', {id})
    await withTimeout(deleted, 10_000, `the guest did not let go of ${id} within 10 s`)
  }

  private async migrationDone(): Promise<void> {
    const deadline = Date.now() + MIGRATION_TIMEOUT_MS
    for (;;) {
      const info = await this.qmpCommand('query-migrate') as {status?: string; 'error-desc'?: string}
      if (info.status === 'completed') return
      if (info.status === 'failed' || info.status === 'cancelled') throw new Error(`QEMU could not save the VM: ${info['error-desc'] ?? info.status}`)
      if (Date.now() > deadline) throw new Error(`QEMU had not saved the VM within ${MIGRATION_TIMEOUT_MS / 1000} s`)
      await sleep(MIGRATION_POLL_MS)
    }
  }

  /** Ends a QEMU whose guest need not power off (its state was saved): QMP quit, SIGKILL when it does not exit. */
  async quit(): Promise<void> {
    this.supervisor.expectExit()
    const exited = this.supervisor.waitForExit()
    await this.qmpCommand('quit').catch(() => {})
    await withTimeout(exited, 10_000, 'QEMU did not quit').catch(() => this.supervisor.current?.kill('SIGKILL'))
    await exited
    this.dropQmp()
  }

  async powerDown(timeoutMs: number): Promise<void> {
    this.supervisor.expectExit()
    const exited = this.supervisor.waitForExit()
    try {
      const qmp = await this.connectQmp()
      await qmp.execute('system_powerdown')
      await withTimeout(exited, timeoutMs, 'the guest did not power off in time')
      this.dropQmp()
      return
    } catch (error) {
      this.emit('hard-stop', (error as Error).message)
    }
    this.dropQmp()
    this.supervisor.current?.kill('SIGKILL')
    await exited
  }

  async kill(): Promise<void> {
    this.supervisor.expectExit()
    this.dropQmp()
    this.supervisor.current?.kill('SIGKILL')
    await this.supervisor.waitForExit()
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
