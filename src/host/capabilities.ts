// Linux capabilities of this process, from /proc/self/status (no native code needed for that).
import {readFileSync} from 'node:fs'

const CAP_NET_ADMIN = 12n

export function effectiveCapabilities(statusText?: string): bigint {
  let text = statusText
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8')
    } catch {
      return 0n
    }
  }
  const match = /^CapEff:\s*([0-9a-f]+)$/im.exec(text)
  return match ? BigInt(`0x${match[1]}`) : 0n
}

export function hasNetAdmin(statusText?: string): boolean {
  return ((effectiveCapabilities(statusText) >> CAP_NET_ADMIN) & 1n) === 1n
}
