// The QEMU backend: argv from hypervisor/qemu-argv.ts, the process under a Supervisor (restarts with back-off),
// one QMP connection per running QEMU for power-down and monitor commands.
import {spawn, type ChildProcess} from 'node:child_process'
import {EventEmitter} from 'node:events'
import {closeSync} from 'node:fs'

import {dieWithParent} from '../host/parent-death.js'
import {withCallerUmask} from '../host/umask.js'
import {openLogForAppend} from '../util/append-log.js'
import {buildQemuArgv, type QemuCommand} from '../hypervisor/qemu-argv.js'
import {QmpClient, QmpTransportError, withTimeout} from '../hypervisor/qmp.js'
import {qemuHasSandbox} from '../hypervisor/qemu-sandbox.js'
import type {MachineSpec, StartOptions, VmBackend, VmInstance, VmRunState} from './backend.js'
import {DEFAULT_SUPERVISION, Supervisor, type SupervisorOptions} from './supervisor.js'

/** QEMU's command line for a machine: the sparse data disk with discard, the console log, one QMP socket. */
export function qemuCommand(spec: MachineSpec, qmpSocket: string, sandbox = false): QemuCommand {
  const {dataDisk, consoleLog, readinessLog, guestControlSocket, shareEventsSocket, inheritFds: _fds, log: _log, ...machine} = spec
  return buildQemuArgv({
    ...machine, sandbox, dataDisk: {path: dataDisk, format: 'raw', discard: true}, qmpSocket, serialLog: consoleLog,
    readiness: {type: 'file', path: readinessLog}, guestControlSocket, shareEventsSocket,
  })
}

export class QemuBackend implements VmBackend {
  readonly name = 'qemu'
  readonly capabilities = {
    accelerators: ['kvm', 'hvf', 'tcg'],
    shareTransports: ['virtiofs', '9p'],
    networkModes: ['user', 'bridged'],
  } as const

  constructor(private readonly options: {qmpSocket: string; supervision?: SupervisorOptions}) {}

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

  constructor(spec: MachineSpec, private readonly options: StartOptions & {qmpSocket: string; supervision?: SupervisorOptions; sandbox: boolean}) {
    super()
    // QEMU dies with the daemon (a daemon killed by SIGKILL must not leave its VM running unseen)
    const {binary, args} = dieWithParent(qemuCommand(spec, options.qmpSocket, options.sandbox))
    this.supervisor = new Supervisor(async () => {
      await options.beforeLaunch?.()
      this.dropQmp()
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
