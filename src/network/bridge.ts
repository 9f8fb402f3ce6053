// The host side of the VM's link on Linux: a bridge holding the host address, the VM's tap enslaved to it.
// Everything goes through `ip`, so it works the same in a test's network namespace.
import {run, runOrThrow, type Runner} from 'dlite-kit/exec'
import type {Subnet} from './subnet.js'

const ip = (args: string[], runner: Runner) => runOrThrow('ip', args, {}, runner)

export async function linkExists(name: string, runner: Runner = run): Promise<boolean> {
  return (await runner('ip', ['link', 'show', 'dev', name])).code === 0
}

/** Creates the bridge with the host address (idempotent) and brings it up. */
export async function ensureBridge(name: string, subnet: Subnet, runner: Runner = run): Promise<void> {
  if (!(await linkExists(name, runner))) {
    await ip(['link', 'add', 'name', name, 'type', 'bridge'], runner)
  }
  const addr = `${subnet.hostIp}/${subnet.prefix}`
  const shown = await runner('ip', ['-o', '-4', 'addr', 'show', 'dev', name])
  if (!shown.stdout.includes(` ${addr} `)) {
    await ip(['addr', 'replace', addr, 'dev', name], runner)
  }
  await ip(['link', 'set', 'dev', name, 'up'], runner)
}

/** Puts an existing tap into the bridge and brings it up. */
export async function attachTap(tap: string, bridge: string, runner: Runner = run): Promise<void> {
  await ip(['link', 'set', 'dev', tap, 'master', bridge], runner)
  await ip(['link', 'set', 'dev', tap, 'up'], runner)
}

/** Removes a link if it exists; never fails for a missing one. */
export async function deleteLink(name: string, runner: Runner = run): Promise<void> {
  if (await linkExists(name, runner)) await runner('ip', ['link', 'delete', 'dev', name])
}

/** The bridges of any dlite home on this host (dlite0 and dlbr-*), by name. */
export async function dliteBridges(runner: Runner = run): Promise<string[]> {
  const shown = await runner('ip', ['-o', 'link', 'show', 'type', 'bridge'])
  if (shown.code !== 0) return []
  return [...shown.stdout.matchAll(/^\d+:\s+([^:@\s]+)/gm)].map((m) => m[1]).filter((name) => name === 'dlite0' || name.startsWith('dlbr-'))
}
