// Gathers the facts `diagnose` judges, from the real host.
import {existsSync, statfsSync} from 'node:fs'
import {dirname} from 'node:path'

import {isInstalled, readConfig} from '../config/index.js'
import {DockerClient} from '../docker/client.js'
import {decideAccelerator} from '../host/accelerator-facts.js'
import {readRegistration} from '../helper/registration.js'
import {helperAnswers} from '../helper/setup.js'
import {helperSocketPath} from '../helper/system-paths.js'
import {hasNetAdmin} from '../host/capabilities.js'
import {probeSocketVmnet} from '../host/socket-vmnet.js'
import {findVirtiofsds, probeQemu} from '../hypervisor/qemu-binary.js'
import {installedGuestArch} from '../lifecycle/versions.js'
import {vmStatus} from '../lifecycle/vm-status.js'
import {homeId} from '../network/names.js'
import {run, which} from 'dlite-kit/exec'
import type {HostFacts} from './checks.js'
import {homebrewPrefix} from './macos.js'

/** When this home's VM runs: asks docker for its version through the host socket, as a user's client would. */
async function runningVmFacts(home: string): Promise<HostFacts['runningVm']> {
  if (!isInstalled(home)) return undefined
  const status = await vmStatus(home).catch(() => undefined)
  if (status?.state !== 'running') return undefined
  const {dockerSocket} = await readConfig(home)
  try {
    const version = await new DockerClient({kind: 'unix', socketPath: dockerSocket}, 10_000).version()
    return {dockerSocket, dockerVersion: version.Version}
  } catch (error) {
    return {dockerSocket, error: (error as Error).message}
  }
}

/** Free bytes on the filesystem that holds `path`, or would hold it once created. */
export function freeBytesFor(path: string): number | undefined {
  let dir = path
  while (!existsSync(dir)) {
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
  try {
    const stats = statfsSync(dir)
    return stats.bavail * stats.bsize
  } catch {
    return undefined
  }
}

export async function gatherHostFacts(home: string): Promise<HostFacts> {
  // the QEMU and accelerator that would run this home's image: its architecture, else the host's
  const guestArch = await installedGuestArch(home)
  const qemu = await probeQemu(which, run, guestArch)
  const verdict = await decideAccelerator('auto', {guestArch})
  return {
    platform: process.platform,
    arch: process.arch,
    network: await installedNetworkMode(home),
    qemu,
    accelerator: {
      accelerator: verdict.accelerator, reason: verdict.reason, addonError: verdict.addonError,
      hardware: verdict.decision?.hardware ?? null,
    },
    virtiofsds: findVirtiofsds(which),
    root: process.getuid?.() === 0,
    tunDevice: existsSync('/dev/net/tun'),
    netAdmin: process.getuid?.() === 0 || hasNetAdmin(),
    rootHelper: process.getuid?.() === 0 ? undefined : await rootHelperFacts(home),
    nft: which('nft'),
    iptables: which('iptables'),
    ip: which('ip'),
    ssh: which('ssh'),
    docker: which('docker'),
    home,
    freeBytes: freeBytesFor(home),
    runningVm: await runningVmFacts(home),
    ...(process.platform === 'darwin' ? macFacts() : {}),
  }
}

/** A Mac's extras: Homebrew's prefix, and whether socket_vmnet is installed and its LaunchDaemon listening. */
function macFacts(): Pick<HostFacts, 'homebrewPrefix' | 'socketVmnet'> {
  const prefix = homebrewPrefix(process.arch)
  return {homebrewPrefix: prefix, socketVmnet: probeSocketVmnet(prefix)}
}

async function rootHelperFacts(home: string): Promise<HostFacts['rootHelper']> {
  const socket = helperSocketPath(homeId(home))
  let registered = false
  try {
    registered = readRegistration(home) !== undefined
  } catch {
    registered = false // a damaged registration: setup writes it again
  }
  return {registered, answers: registered && (await helperAnswers(socket)), socket}
}

/** The home's network mode; a home that is not installed (or unreadable) is judged as a new install: user. */
async function installedNetworkMode(home: string): Promise<'user' | 'bridged'> {
  try {
    return (await readConfig(home)).network
  } catch {
    return 'user'
  }
}
