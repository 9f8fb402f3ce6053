// The host end of a host-to-guest virtio-serial port: QEMU listens on a unix socket (server, no wait) that it
// makes as it starts, so the host tries until the socket answers or the deadline passes.
import {connect, type Socket} from 'node:net'

export async function connectGuestPort(path: string, deadlineMs: number): Promise<Socket> {
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
