// Connecting to a unix socket a process is about to listen on: the host end of a virtio-serial port (QEMU makes
// it as it starts), or the one QEMU opens for a saved state on migrate-incoming. Tried until the socket answers
// or the deadline passes.
import {connect, type Socket} from 'node:net'

export async function connectWhenListening(path: string, deadlineMs: number): Promise<Socket> {
  const deadline = Date.now() + deadlineMs
  for (;;) {
    try {
      return await openSocket(path)
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path)
    socket.once('connect', () => {
      socket.off('error', reject)
      resolve(socket)
    })
    socket.once('error', reject)
  })
}

/**
 * connectWhenListening for one VM process's port: undefined when `stillWanted` says, once connected, that the
 * process it was for went meanwhile. QEMU serves one connection at a time, so that socket is closed at once: left
 * open, it would be the one QEMU reads, and the connection made for the next process would never be read.
 */
export async function connectForCurrent(path: string, deadlineMs: number, stillWanted: () => boolean): Promise<Socket | undefined> {
  const socket = await connectWhenListening(path, deadlineMs)
  if (stillWanted()) return socket
  socket.destroy()
  return undefined
}
