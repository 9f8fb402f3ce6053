// The daemon's log is its stdout, one line per event: `<ISO time> [<source>: ]<text>`. The core and the
// plugins' daemon-side code write the same line, so `dlite logs` reads as one story.

/** The line as the daemon's log holds it (newline included). */
export function daemonLogLine(text: string, source?: string, now: Date = new Date()): string {
  return `${now.toISOString()} ${source ? `${source}: ` : ''}${text}\n`
}

/** A logger for daemon-side code: each call writes one daemon-log line to stdout, tagged with `source`. */
export function daemonLogger(source?: string): (text: string) => void {
  return (text) => {
    process.stdout.write(daemonLogLine(text, source))
  }
}
