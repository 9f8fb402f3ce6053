// The daemon's control socket speaks newline-delimited JSON: one request, then one or more responses.
// Shared by the server (daemon) and the client (CLI) so both sides agree on the shapes.
import {StringDecoder} from 'node:string_decoder'

/**
 * `paused`: the guest's CPUs stand still, by `dlite pause` (pausedSince says when) or by QEMU on a host disk full
 * (lastError says so); `orphaned`: a VM process runs without its daemon (status only).
 */
export type VmState = 'starting' | 'running' | 'paused' | 'stopping' | 'stopped' | 'failed' | 'orphaned'

export type StageName = 'network' | 'share' | 'vm' | 'boot' | 'docker' | 'socket' | 'ports' | 'context' | 'plugins'

export interface StageEvent {
  type: 'stage'
  stage: StageName
  status: 'start' | 'done' | 'skip' | 'fail'
  detail?: string
  at: number
}

/** A published container port on the host's loopback, or one that could not be bound there. */
export interface ForwardedPort {
  proto: 'tcp' | 'udp'
  address: string
  hostPort: number
  containerName: string
  containerPort?: number
  /** Why it could not be bound (a failed one only). */
  reason?: string
}

export interface VmStatus {
  state: VmState
  pid: number
  qemuPid?: number
  accelerator?: string
  acceleratorReason?: string
  network: 'user' | 'bridged'
  /** Where the VM's published ports answer: its own address (bridged) or 127.0.0.1 (user). */
  ip: string
  /** The guest's address inside its own network (user mode: 10.0.2.15, not reachable from the host). */
  guestIp?: string
  /** The guest's sshd as the host reaches it. */
  ssh?: {host: string; port: number}
  /** Published container ports forwarded to the host's loopback, and those that could not be bound. */
  ports?: {forwarded: ForwardedPort[]; failed: ForwardedPort[]}
  hostname: string
  dockerSocket: string
  dockerEndpoint: string
  /** The docker context that points at dockerSocket. */
  dockerContext: string
  startedAt?: number
  readyAt?: number
  restarts: number
  /** The last thing restarted while the VM ran, why, and when: QEMU (by the daemon) or dockerd/containerd (by the guest). */
  lastRestart?: string
  lastError?: string
  /** `dlite pause` stopped the guest at this time (ms since the epoch); `dlite resume` lets it go on. */
  pausedSince?: number
  imageVersion?: string
  /** The VM was resumed from the state saved at this time (ms since the epoch), not booted. */
  resumedFrom?: number
  /** Why a saved state was not resumed (the VM booted cold instead). */
  coldBoot?: string
  /** dockerd's version, as it answered when the VM became ready. */
  dockerVersion?: string
}

/** A saved VM state: its size, and how long the save took (QMP stop to a complete file). */
export interface SaveOutcome {
  bytes: number
  ms: number
}

/**
 * How long a stop waits for the guest's own clean power-off before stopping QEMU hard, whoever asks (the
 * CLI, or a signal from the service manager: systemd's TimeoutStopSec is longer). The guest gives containers
 * docker's 10 s to exit and dockerd 20 s in all, then containerd and the disk; under software emulation on a
 * busy host that adds up to 20-30 s, and a hard stop mid-way leaves the data disk to recover.
 */
export const CLEAN_STOP_TIMEOUT_MS = 60_000

/** The longest stop a request may ask for (a day, as the CLI's --timeout): more overflows Node's timers. */
export const MAX_STOP_TIMEOUT_MS = 86_400_000

export type ControlRequest =
  | {op: 'status'}
  | {op: 'watch'}
  /** cold: power the guest off even where its state would be saved for the next start. */
  | {op: 'stop'; timeoutMs?: number; cold?: boolean}
  /** Stops the guest's CPUs (memory kept, no CPU used) and lets them go on; each answers with the status. */
  | {op: 'pause'}
  | {op: 'resume'}
  /** Runs one plugin's `dlite:plugin-request` hook handler in the daemon (plugin-api sendPluginRequest). */
  | {op: 'plugin'; plugin: string; request: unknown}

export type ControlResponse =
  | {type: 'status'; status: VmStatus}
  | StageEvent
  | {type: 'ready'; status: VmStatus}
  | {type: 'failed'; error: string; status: VmStatus}
  /** saved: the VM's state was saved (the next start resumes it); poweredOff: why it was powered off instead. */
  | {type: 'stopped'; saved?: SaveOutcome; poweredOff?: string}
  | {type: 'plugin'; result: unknown}
  | {type: 'error'; error: string}

export function encode(message: ControlRequest | ControlResponse): string {
  return JSON.stringify(message) + '\n'
}

/** The longest line either side accepts: a status with every forwarded port is a few KiB; a plugin request is small. */
export const MAX_LINE_BYTES = 1024 * 1024

/**
 * Splits a byte stream into JSON messages. UTF-8 is decoded across chunk boundaries (a character split between
 * two reads stays whole). A line that is not JSON goes to `onError` and the stream goes on; a line longer than
 * MAX_LINE_BYTES goes to `onError` as fatal, and nothing more is read.
 */
export function lineDecoder<T>(onMessage: (message: T) => void, onError: (error: Error, fatal: boolean) => void): (chunk: Buffer | string) => void {
  const utf8 = new StringDecoder('utf8')
  let buffer = ''
  let over = false
  return (chunk) => {
    if (over) return
    buffer += typeof chunk === 'string' ? chunk : utf8.write(chunk)
    let newline: number
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + 1)
      if (!line.trim()) continue
      let message: T
      try {
        message = JSON.parse(line) as T
      } catch {
        onError(new Error(`not a JSON message: ${JSON.stringify(line.slice(0, 80))}`), false)
        continue
      }
      onMessage(message)
    }
    if (Buffer.byteLength(buffer) > MAX_LINE_BYTES) {
      over = true
      buffer = ''
      onError(new Error(`a message longer than ${MAX_LINE_BYTES} bytes`), true)
    }
  }
}

/** A request as it arrived, checked before the daemon acts on it; a string says what is wrong with it. */
export function checkRequest(value: unknown): ControlRequest | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'a request must be a JSON object'
  const request = value as Record<string, unknown>
  switch (request.op) {
    case 'status':
    case 'watch':
    case 'pause':
    case 'resume':
      return {op: request.op}
    case 'stop': {
      const {timeoutMs, cold} = request
      if (cold !== undefined && typeof cold !== 'boolean') return 'stop: cold must be true or false'
      if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_STOP_TIMEOUT_MS)) {
        return `stop: timeoutMs must be a whole number of milliseconds from 0 to ${MAX_STOP_TIMEOUT_MS}`
      }
      return {op: 'stop', ...(timeoutMs === undefined ? {} : {timeoutMs}), ...(cold === undefined ? {} : {cold})}
    }
    case 'plugin':
      if (typeof request.plugin !== 'string' || request.plugin === '') return 'plugin: name the plugin'
      return {op: 'plugin', plugin: request.plugin, request: request.request}
    default:
      return `unknown request ${JSON.stringify(request.op)}`
  }
}
