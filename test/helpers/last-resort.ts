// What a test made outside its own process (a network namespace, a local user) is taken down however the process
// ends: by the test itself, and as a last resort on exit, SIGINT, SIGTERM and SIGHUP. One set of handlers for all
// of them: a second module's own signal handler would never run, as the first one exits the process.
const cleanups = new Set<() => void>()
let installed = false

function runAll(): void {
  for (const cleanup of [...cleanups]) {
    cleanups.delete(cleanup)
    try {
      cleanup()
    } catch {
      // the others still run
    }
  }
}

/** Runs `cleanup` (synchronous) at exit unless the returned function was called first, which forgets it. */
export function atLastResort(cleanup: () => void): () => void {
  if (!installed) {
    installed = true
    process.on('exit', runAll)
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        runAll()
        process.exit(130)
      })
    }
  }
  cleanups.add(cleanup)
  return () => {
    cleanups.delete(cleanup)
  }
}
