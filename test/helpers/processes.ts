// Who a process is, from /proc: the tests that prove what runs as whom read the process table, not dlite's word.
import {readFileSync, readdirSync} from 'node:fs'

/** Everything a process's /proc/PID/status says about who it is: real, effective, saved and fs uid. */
export function uidsOf(pid: number): number[] {
  const line = /^Uid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]
  return line.trim().split(/\s+/).map(Number)
}

/** Every process whose command line mentions `needle` (the test runner itself aside), with its uids. */
export function processesMentioning(needle: string): {pid: number; uids: number[]; cmd: string}[] {
  const found: {pid: number; uids: number[]; cmd: string}[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ')
      if (cmd.includes(needle) && !cmd.includes('mocha')) found.push({pid: Number(entry), uids: uidsOf(Number(entry)), cmd})
    } catch {
      // gone meanwhile
    }
  }
  return found
}
