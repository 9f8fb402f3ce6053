// The root helper's socket: root's, in a directory only root may change, open to the owner's group (0660), and
// each connection's peer must be the registration's owner (SO_PEERCRED), so another member of that group is
// refused too. One request per connection, done one at a time; every request and every refusal is logged.
import {chmodSync, chownSync, lstatSync, mkdirSync, rmSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import {dirname} from 'node:path'

import {socketFd, type PeerCredentials} from '../daemon/peer-check.js'
import {listenPrivately} from '../util/listen-private.js'
import {RefusedRequest} from './actions.js'
import type {HostPrivileges} from './privileges.js'
import type {HelperRegistration} from './registration.js'
import {MAX_REQUEST_BYTES, parseHelperRequest, type HelperAnswer, type HelperRequest} from './requests.js'

export interface HelperServerDeps {
  /** Read again for each connection: a registration root changes counts at once. */
  registration: () => HelperRegistration
  socketPath: string
  actions: (registration: HelperRegistration) => HostPrivileges
  readCredentials: (fd: number) => PeerCredentials
  /** Sends the answer and the fd in one message (tap-open). */
  sendFd: (socketFd: number, text: string, fd: number) => void
  closeFd: (fd: number) => void
  log: (line: string) => void
}

export interface HelperServer {
  server: Server
  close(): Promise<void>
}

/** The request as the log shows it: what the peer sent is quoted, so it cannot write a line of its own. */
function describe(request: HelperRequest): string {
  if ('subnet' in request) return `${request.verb} ${JSON.stringify(request.subnet)}`
  if ('ip' in request) return `${request.verb} ${JSON.stringify(request.ip)}`
  if ('protocol' in request) return `${request.verb} ${request.protocol}`
  if ('domain' in request) return `${request.verb} ${JSON.stringify(request.domain)} (${request.mode})`
  return request.verb
}

/** One log line whatever a message holds (a refusal may repeat what the peer sent). */
function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Connections at once: enough for a daemon and its plugins, too few for a flood to hold the helper's descriptors. */
const MAX_CONNECTIONS = 32

export async function serveHelper(deps: HelperServerDeps): Promise<HelperServer> {
  const {socketPath} = deps
  const log = (line: string) => deps.log(oneLine(line))
  const first = deps.registration()
  let queue: Promise<unknown> = Promise.resolve()
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work)
    queue = next.catch(() => {})
    return next
  }
  const open = new Set<Socket>()

  const handle = (socket: Socket) => {
    open.add(socket)
    socket.on('close', () => open.delete(socket))
    socket.on('error', () => socket.destroy())
    socket.setTimeout(10_000, () => socket.destroy())
    const answer = (reply: HelperAnswer) => {
      if (!socket.destroyed) socket.end(`${JSON.stringify(reply)}\n`)
    }
    let registration: HelperRegistration
    try {
      registration = deps.registration()
    } catch (error) {
      log(`refused a request: ${(error as Error).message}`)
      answer({ok: false, error: `the root helper cannot read its registration: ${(error as Error).message}`})
      socket.resume()
      return
    }
    const fd = socketFd(socket)
    let who = 'unknown peer'
    let credentials: PeerCredentials | undefined
    try {
      if (fd === undefined) throw new Error('no descriptor')
      credentials = deps.readCredentials(fd)
      who = `uid ${credentials.uid} pid ${credentials.pid ?? '?'}`
    } catch (error) {
      who = `a peer whose credentials could not be read (${(error as Error).message})`
    }
    if (!credentials || (credentials.uid !== registration.owner.uid && credentials.uid !== 0)) {
      log(`refused ${who}: this helper serves uid ${registration.owner.uid} (${registration.home}) only`)
      answer({ok: false, error: `refused: this dlite helper serves uid ${registration.owner.uid} only`})
      socket.resume()
      return
    }
    let buffer = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      buffer += chunk
      if (Buffer.byteLength(buffer) > MAX_REQUEST_BYTES) {
        log(`refused ${who}: a request longer than ${MAX_REQUEST_BYTES} bytes`)
        answer({ok: false, error: `refused: a request longer than ${MAX_REQUEST_BYTES} bytes`})
        buffer = ''
        return
      }
      const newline = buffer.indexOf('\n')
      if (newline < 0) return
      const line = buffer.slice(0, newline)
      buffer = ''
      // the request is in: a verb may take longer than a peer may idle (a resolver reload waits up to 30 s)
      socket.setTimeout(0)
      socket.removeAllListeners('data')
      socket.resume()
      const request = parseHelperRequest(line)
      if ('refused' in request) {
        log(`refused ${who}: ${request.refused}`)
        answer({ok: false, error: `refused: ${request.refused}`})
        return
      }
      void serially(() => perform(deps.actions(registration), registration, request, who, socket, fd!, answer))
    })
  }

  const perform = async (actions: HostPrivileges, registration: HelperRegistration, request: HelperRequest, who: string, socket: Socket, fd: number, answer: (reply: HelperAnswer) => void) => {
    const what = describe(request)
    try {
      switch (request.verb) {
        case 'network-up':
          answer({ok: true, result: await actions.networkUp()})
          break
        case 'network-down':
          await actions.networkDown()
          answer({ok: true})
          break
        case 'vm-address':
          await actions.setVmAddress(request.ip)
          answer({ok: true})
          break
        case 'route-add':
          await actions.addRoute(request.subnet)
          answer({ok: true})
          break
        case 'route-remove':
          await actions.removeRoute(request.subnet)
          answer({ok: true})
          break
        case 'resolver-write':
          answer({ok: true, result: await actions.writeResolver(request.domain, request.mode)})
          break
        case 'resolver-remove':
          answer({ok: true, result: await actions.removeResolver()})
          break
        case 'tap-open':
        case 'dns-socket': {
          const handed = request.verb === 'tap-open' ? await actions.openTap() : await actions.dnsSocket(request.protocol)
          try {
            if (socket.destroyed) throw new Error('the peer left before the descriptor was ready')
            deps.sendFd(fd, `${JSON.stringify({ok: true, result: request.verb === 'tap-open' ? {tap: registration.tap} : {protocol: request.protocol}})}\n`, handed)
          } finally {
            deps.closeFd(handed) // the peer holds its own copy now (a tap lives as long as that does)
          }
          socket.end()
          break
        }
      }
      log(`${who}: ${what}: done`)
    } catch (error) {
      const refused = error instanceof RefusedRequest
      log(`${refused ? 'refused' : 'failed'} ${who}: ${what}: ${(error as Error).message}`)
      answer({ok: false, error: `${refused ? 'refused: ' : ''}${(error as Error).message}`})
    }
  }

  const server = createServer(handle)
  server.maxConnections = MAX_CONNECTIONS
  // an accept that fails (out of descriptors) is logged, never the end of the helper
  server.on('error', (error) => log(`socket: ${error.message}`))
  mkdirSync(dirname(socketPath), {recursive: true, mode: 0o755})
  try {
    // only a socket of an earlier helper is ever removed here: the directory is root's
    if (lstatSync(socketPath).isSocket()) rmSync(socketPath)
  } catch {
    // nothing there
  }
  await listenPrivately(server, socketPath)
  // by path, in root's own directory: nobody else can put anything there
  chownSync(socketPath, 0, first.owner.gid)
  chmodSync(socketPath, 0o660)
  log(`serving ${first.home} (uid ${first.owner.uid}) on ${socketPath}`)
  return {
    server,
    async close() {
      for (const socket of open) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      rmSync(socketPath, {force: true})
    },
  }
}
