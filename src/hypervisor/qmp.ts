// A minimal QMP client: QEMU's JSON control protocol on a unix socket. dlite needs only a handful of
// commands (capabilities negotiation, powerdown, quit, status), so this stays small and dependency-free.
import {connect, type Socket} from 'node:net'

export interface QmpEvent {
  event: string
  data?: unknown
}

export class QmpClient {
  private buffer = ''
  private pending: Array<{resolve: (value: unknown) => void; reject: (error: Error) => void}> = []
  private readonly eventListeners: Array<(event: QmpEvent) => void> = []
  /** Set once the socket closed or failed: every command after it fails at once instead of waiting forever. */
  private closedBy?: Error

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => this.onData(chunk))
    socket.on('close', () => this.failAll(new QmpTransportError('QMP connection closed')))
    socket.on('error', (error) => this.failAll(new QmpTransportError(`QMP connection failed: ${error.message}`)))
  }

  get closed(): boolean {
    return this.closedBy !== undefined
  }

  /** Connects, waits for the greeting and leaves capabilities negotiation mode. */
  static async connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    const socket = connect(path)
    const client = new QmpClient(socket)
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        const onGreeting = (chunk: string) => {
          if (chunk.includes('"QMP"')) {
            socket.off('data', onGreeting)
            resolve()
          }
        }
        socket.on('data', onGreeting)
        socket.once('error', reject)
      }),
      timeoutMs,
      `no QMP greeting on ${path}`,
    )
    await client.execute('qmp_capabilities')
    return client
  }

  onEvent(listener: (event: QmpEvent) => void): void {
    this.eventListeners.push(listener)
  }

  /** Runs one command; a QEMU that does not answer within timeoutMs fails it (and the connection, whose order is then lost). */
  execute(command: string, args?: Record<string, unknown>, timeoutMs = 15_000): Promise<unknown> {
    if (this.closedBy) return Promise.reject(this.closedBy)
    const answer = new Promise((resolve, reject) => {
      this.pending.push({resolve, reject})
      this.socket.write(JSON.stringify(args ? {execute: command, arguments: args} : {execute: command}) + '\n')
    })
    return withTimeout(answer, timeoutMs, `QMP ${command}: no answer within ${timeoutMs / 1000} s`).catch((error: Error) => {
      if (!(error instanceof QmpTransportError) && /no answer within/.test(error.message)) this.socket.destroy(new QmpTransportError(error.message))
      throw error
    })
  }

  close(): void {
    this.socket.destroy()
  }

  private onData(chunk: string): void {
    this.buffer += chunk
    let newline: number
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).trim()
      this.buffer = this.buffer.slice(newline + 1)
      if (line) this.onMessage(line)
    }
  }

  private onMessage(line: string): void {
    let message: {QMP?: unknown; event?: string; data?: unknown; return?: unknown; error?: {class: string; desc: string}}
    try {
      message = JSON.parse(line)
    } catch {
      return
    }
    if (message.QMP) return
    if (message.event) {
      for (const listener of this.eventListeners) listener({event: message.event, data: message.data})
      return
    }
    const waiter = this.pending.shift()
    if (!waiter) return
    if (message.error) waiter.reject(new Error(`QMP ${message.error.class}: ${message.error.desc}`))
    else waiter.resolve(message.return)
  }

  private failAll(error: Error): void {
    this.closedBy ??= error
    for (const waiter of this.pending.splice(0)) waiter.reject(error)
  }
}

/** The connection itself failed (closed, refused, timed out), as opposed to QEMU refusing one command. */
export class QmpTransportError extends Error {}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms)
    }),
  ])
}
