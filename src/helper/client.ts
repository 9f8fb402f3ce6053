// A user's side of the root helper: each request is one connection to the home's helper socket. The tap and the
// DNS port's sockets come back as descriptors in the answer (the user may not open /dev/net/tun nor bind port
// 53); everything else is a JSON line.
import {closeSync} from 'node:fs'
import {connect} from 'node:net'
import {Worker} from 'node:worker_threads'

import type {RemoveOutcome, ResolverOutcome, ResolverSetting} from 'dlite-kit/resolver-file'

import type {BridgeLink, HostPrivileges} from './privileges.js'
import type {HelperAnswer, HelperRequest} from './requests.js'

const REQUEST_TIMEOUT_MS = 60_000
const FD_TIMEOUT_MS = 15_000

export interface FdAnswer {
  text: string
  fd: number | null
}

export interface FdRequester {
  requestFd(path: string, text: string, timeoutMs: number): Promise<FdAnswer>
}

// The addon's requestFd blocks while it waits (it must read the descriptor off the socket itself, where Node
// cannot); in a worker thread it blocks only the worker. Descriptors are the process's, so the one the worker
// receives is this thread's to use.
const WORKER_SOURCE = `
const {parentPort, workerData} = require('node:worker_threads')
try {
  parentPort.postMessage({answer: require(workerData.addon).requestFd(workerData.path, workerData.text, workerData.timeoutMs)})
} catch (error) {
  parentPort.postMessage({error: {message: String(error && error.message), code: error && error.code}})
}`

/** requestFd of the addon at `addonPath` (dlite-native's index.js), off the event loop. */
export function offThreadFdRequester(addonPath: string): FdRequester {
  return {
    requestFd: (path, text, timeoutMs) => new Promise((resolve, reject) => {
      const worker = new Worker(WORKER_SOURCE, {eval: true, workerData: {addon: addonPath, path, text, timeoutMs}})
      let settled = false
      // the addon keeps its own deadline; this one is for a worker that never gets that far
      const stuck = setTimeout(() => {
        settled = true
        void worker.terminate()
        reject(Object.assign(new Error(`no answer from ${path} within ${timeoutMs / 1000} s`), {code: 'ETIMEDOUT'}))
      }, timeoutMs + 5000)
      worker.once('exit', () => clearTimeout(stuck))
      worker.once('message', (message: {answer?: FdAnswer; error?: {message: string; code?: string}}) => {
        if (settled) {
          if (message.answer?.fd !== null && message.answer?.fd !== undefined) closeSync(message.answer.fd)
          return
        }
        settled = true
        if (message.answer) resolve(message.answer)
        else reject(Object.assign(new Error(message.error?.message ?? 'requestFd failed'), {code: message.error?.code}))
      })
      worker.once('error', (error) => {
        if (settled) return
        settled = true
        reject(error)
      })
      worker.once('exit', (code) => {
        if (!settled) reject(new Error(`the descriptor request's worker exited (${code}) without an answer`))
      })
    }),
  }
}

/** The error a user sees when the helper is not there to ask, with the fix. */
export function helperUnreachable(socketPath: string, code: string | undefined): Error {
  if (code === 'EACCES' || code === 'EPERM') {
    return new Error(`you may not use the root helper at ${socketPath}: it serves the user who ran \`sudo dlite network setup\` for this home`)
  }
  return new Error(`the root helper for this home is not running (${socketPath}: ${code ?? 'no answer'}); start it with \`sudo dlite network setup\` (once after each host reboot where no service manager runs it)`)
}

function answerOf(text: string, verb: string): unknown {
  let reply: HelperAnswer
  try {
    reply = JSON.parse(text) as HelperAnswer
  } catch {
    throw new Error(`the root helper gave no answer to ${verb}${text ? `: ${JSON.stringify(text.slice(0, 120))}` : ''}`)
  }
  if (!reply.ok) throw new Error(`the root helper: ${reply.error}`)
  return reply.result
}

export function helperRequest(socketPath: string, request: HelperRequest, timeoutMs = REQUEST_TIMEOUT_MS): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath)
    let text = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`the root helper did not answer ${request.verb} within ${timeoutMs / 1000} s`))
    }, timeoutMs)
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`))
    socket.on('data', (chunk: string) => (text += chunk))
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(text ? new Error(`the root helper: ${error.message}`) : helperUnreachable(socketPath, error.code))
    })
    socket.on('end', () => {
      clearTimeout(timer)
      try {
        resolve(answerOf(text.split('\n')[0], request.verb))
      } catch (error) {
        reject(error)
      }
    })
  })
}

export class HelperClient implements HostPrivileges {
  constructor(private readonly socketPath: string, private readonly native: FdRequester) {}

  async networkUp(): Promise<BridgeLink> {
    return (await helperRequest(this.socketPath, {verb: 'network-up'})) as BridgeLink
  }

  async openTap(): Promise<number> {
    return this.descriptor({verb: 'tap-open'})
  }

  async dnsSocket(protocol: 'udp' | 'tcp'): Promise<number> {
    return this.descriptor({verb: 'dns-socket', protocol})
  }

  async writeResolver(domain: string, mode: ResolverSetting): Promise<ResolverOutcome> {
    return (await helperRequest(this.socketPath, {verb: 'resolver-write', domain, mode})) as ResolverOutcome
  }

  async removeResolver(): Promise<RemoveOutcome> {
    return (await helperRequest(this.socketPath, {verb: 'resolver-remove'})) as RemoveOutcome
  }

  /** A request whose answer carries a descriptor. */
  private async descriptor(request: HelperRequest): Promise<number> {
    let answer: FdAnswer
    try {
      answer = await this.native.requestFd(this.socketPath, `${JSON.stringify(request)}\n`, FD_TIMEOUT_MS)
    } catch (error) {
      throw helperUnreachable(this.socketPath, (error as NodeJS.ErrnoException).code)
    }
    try {
      answerOf(answer.text.split('\n')[0], request.verb)
    } catch (error) {
      if (answer.fd !== null) closeSync(answer.fd)
      throw error
    }
    if (answer.fd === null) throw new Error(`the root helper answered ${request.verb} without a descriptor`)
    return answer.fd
  }

  async networkDown(): Promise<void> {
    await helperRequest(this.socketPath, {verb: 'network-down'})
  }

  async setVmAddress(ip: string): Promise<void> {
    await helperRequest(this.socketPath, {verb: 'vm-address', ip})
  }

  async addRoute(subnet: string): Promise<void> {
    await helperRequest(this.socketPath, {verb: 'route-add', subnet})
  }

  async removeRoute(subnet: string): Promise<void> {
    await helperRequest(this.socketPath, {verb: 'route-remove', subnet})
  }
}
