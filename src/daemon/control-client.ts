// The CLI side of the control socket.
import {connect} from 'node:net'

import {encode, lineDecoder, type ControlRequest, type ControlResponse, type VmStatus} from './control-protocol.js'

export class DaemonUnreachable extends Error {}

/**
 * Sends one request and hands every response to `onMessage` until it returns true (done) or the daemon
 * closes the connection.
 */
export function converse(
  path: string,
  request: ControlRequest,
  onMessage: (message: ControlResponse) => boolean,
  timeoutMs = 0,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(path)
    let finished = false
    const finish = (error?: Error) => {
      if (finished) return
      finished = true
      if (timer) clearTimeout(timer)
      socket.destroy()
      if (error) reject(error)
      else resolve()
    }
    const timer = timeoutMs > 0 ? setTimeout(() => finish(new Error(`the daemon did not answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs) : undefined
    socket.on('connect', () => socket.write(encode(request)))
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (['ENOENT', 'ECONNREFUSED'].includes(error.code ?? '')) finish(new DaemonUnreachable('the dlite daemon is not running'))
      else if (error.code === 'EACCES') finish(new Error(`no permission to talk to the dlite daemon (${path}): run the command with sudo`))
      else finish(error)
    })
    socket.on('close', () => finish())
    socket.on('data', lineDecoder<ControlResponse>((message) => {
      if (message.type === 'error') finish(new Error(message.error))
      else if (onMessage(message)) finish()
    }, (error) => finish(new Error(`the dlite daemon sent something unreadable: ${error.message}`))))
  })
}

/** The daemon's status, or undefined when no daemon answers. */
export async function queryStatus(path: string, timeoutMs = 5000): Promise<VmStatus | undefined> {
  let status: VmStatus | undefined
  try {
    await converse(path, {op: 'status'}, (message) => {
      if (message.type === 'status') status = message.status
      return true
    }, timeoutMs)
  } catch (error) {
    if (error instanceof DaemonUnreachable) return undefined
    throw error
  }
  return status
}
