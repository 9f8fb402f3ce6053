// Work directories that must not outlive the process that made them when it is interrupted (Ctrl-C, SIGTERM):
// a staged home, an image being copied. Node runs no `finally` on a signal; it does run 'exit' listeners, so
// each registered path is removed there, synchronously. A signal that nothing else answers exits with 130/143,
// as a shell would report it. (SIGKILL runs nothing: the next install or update sweeps what it left.)
import {rmSync} from 'node:fs'

const paths = new Set<string>()
let installed = false

function install(): void {
  if (installed) return
  installed = true
  process.on('exit', () => {
    for (const path of paths) rmSync(path, {recursive: true, force: true})
  })
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    // listr2 answers SIGINT itself (and exits); only a signal nobody answers needs this
    process.on(signal, () => {
      if (process.listenerCount(signal) === 1) process.exit(code)
    })
  }
}

/** Removes `path` if the process exits before the returned release() is called. */
export function removeOnExit(path: string): () => void {
  install()
  paths.add(path)
  return () => {
    paths.delete(path)
  }
}
