// The daemon side of the control socket. The socket file is created 0600 (owner only) before it accepts
// anything, then opened to one group (0660) if asked; each connection's peer uid is checked too.
import {rmSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'

import {listenPrivately} from '../util/listen-private.js'
import {restrictSocket} from './socket-access.js'
import {checkRequest, encode, lineDecoder, type ControlRequest, type ControlResponse} from './control-protocol.js'

export type PeerCheck = (socket: Socket) => {ok: true} | {ok: false; reason: string}

export type RequestHandler = (request: ControlRequest, reply: (message: ControlResponse) => void, socket: Socket) => void

export interface ControlServer {
  server: Server
  /** Stops listening and drops open connections (watchers would otherwise keep it open). */
  close(): Promise<void>
}

export interface ControlAccess {
  checkPeer?: PeerCheck
  /** Open the socket to this group (0660); owner-only (0600) without it. */
  gid?: number
}

export async function serveControl(path: string, handle: RequestHandler, access: ControlAccess = {}): Promise<ControlServer> {
  const {checkPeer} = access
  rmSync(path, {force: true})
  const open = new Set<Socket>()
  const server = createServer((socket) => {
    open.add(socket)
    socket.on('close', () => open.delete(socket))
    socket.on('error', () => socket.destroy())
    if (checkPeer) {
      const verdict = checkPeer(socket)
      if (!verdict.ok) {
        socket.end(encode({type: 'error', error: `refused: ${verdict.reason}`}))
        socket.resume() // drain, so the peer's close is seen and the socket is released
        return
      }
    }
    const reply = (message: ControlResponse) => {
      if (!socket.destroyed) socket.write(encode(message))
    }
    // Whatever arrives, the daemon answers and goes on: a bad line is an error reply, never a throw in here.
    socket.on('data', lineDecoder<unknown>((value) => {
      const request = checkRequest(value)
      if (typeof request === 'string') {
        reply({type: 'error', error: request})
        return
      }
      try {
        handle(request, reply, socket)
      } catch (error) {
        reply({type: 'error', error: (error as Error).message})
      }
    }, (error, fatal) => {
      reply({type: 'error', error: error.message})
      if (fatal) socket.end()
    }))
  })
  await listenPrivately(server, path)
  restrictSocket(path, access.gid)
  return {
    server,
    async close() {
      // what was written goes out first (a stop's answer); a peer that does not close its end is cut after 1 s
      for (const socket of open) {
        socket.end()
        setTimeout(() => socket.destroy(), 1000).unref()
      }
      await new Promise<void>((resolve) => server.close(() => resolve()))
      rmSync(path, {force: true})
    },
  }
}
