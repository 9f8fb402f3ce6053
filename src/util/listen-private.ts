// A unix socket that is its owner's alone from the moment it exists: listen() under umask 0177 makes it 0600, so
// nobody can connect in the window before its mode is opened to anyone else on purpose.
import type {Server} from 'node:net'

export async function listenPrivately(server: Server, path: string): Promise<void> {
  const previousUmask = process.umask(0o177)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => resolve())
    })
  } finally {
    process.umask(previousUmask)
  }
}
