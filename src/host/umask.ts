// A user's daemon runs under umask 077: nothing it creates (logs, run files, plugin state, temporaries) is
// readable by anyone else, whatever the user's own umask. QEMU is the exception: as the 9p share server it
// creates the files containers write into the user's shares, and those get the modes the user's own umask
// gives, as anything else the user runs would. A root daemon (bridged) keeps its umask: the user reads its
// logs and plugin state.
let callerUmask: number | undefined

/** Called once at the daemon's start. */
export function restrictDaemonUmask(): void {
  if (process.getuid?.() === 0 || callerUmask !== undefined) return
  callerUmask = process.umask(0o077)
}

/** Runs `start` (a spawn: the child takes the umask at fork) under the umask the daemon was started with. */
export function withCallerUmask<T>(start: () => T): T {
  if (callerUmask === undefined) return start()
  const restricted = process.umask(callerUmask)
  try {
    return start()
  } finally {
    process.umask(restricted)
  }
}
