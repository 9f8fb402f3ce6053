// A VM's saved state on its way between QEMU and a file, through a unix socket (QEMU 7.2 migrates to sockets,
// not files, and its seccomp sandbox forbids the `exec:` way), with its size and sha256 taken on the way.
import {createHash} from 'node:crypto'
import {closeSync, createReadStream, createWriteStream, fsyncSync, openSync, rmSync} from 'node:fs'
import {createServer, type Socket} from 'node:net'
import {Transform} from 'node:stream'
import {pipeline} from 'node:stream/promises'

import {listenPrivately} from '../util/listen-private.js'
import {connectWhenListening} from '../util/unix-connect.js'

export interface StateDigest {
  bytes: number
  sha256: string
}

function digesting(): {transform: Transform; digest: () => StateDigest} {
  const hash = createHash('sha256')
  let bytes = 0
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      bytes += chunk.length
      callback(null, chunk)
    },
  })
  return {transform, digest: () => ({bytes, sha256: hash.digest('hex')})}
}

/**
 * Listens on `socketPath` (the user's alone) for QEMU's outgoing migration and writes what comes to `toFile`,
 * flushed to disk; `done` resolves once QEMU closed its end and the file is complete.
 */
export async function receiveState(socketPath: string, toFile: string): Promise<{done: Promise<StateDigest>; close: () => void}> {
  let resolveDone!: (digest: StateDigest) => void
  let rejectDone!: (error: Error) => void
  const done = new Promise<StateDigest>((resolve, reject) => {
    resolveDone = resolve
    rejectDone = reject
  })
  done.catch(() => {})
  const server = createServer({allowHalfOpen: false}, (socket: Socket) => {
    server.close()
    const {transform, digest} = digesting()
    const file = createWriteStream(toFile, {mode: 0o600})
    pipeline(socket, transform, file).then(() => {
      // on disk before the record that vouches for it is written
      const fd = openSync(toFile, 'r')
      try {
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
      resolveDone(digest())
    }).catch(rejectDone)
  })
  rmSync(socketPath, {force: true})
  await listenPrivately(server, socketPath)
  return {
    done,
    close: () => {
      server.close()
      rmSync(socketPath, {force: true})
    },
  }
}

/** Sends the file to a QEMU waiting on `socketPath` (migrate-incoming), and closes the connection at its end. */
export async function sendState(socketPath: string, fromFile: string): Promise<StateDigest> {
  const socket = await connectWhenListening(socketPath, 10_000)
  const {transform, digest} = digesting()
  await pipeline(createReadStream(fromFile), transform, socket)
  return digest()
}
