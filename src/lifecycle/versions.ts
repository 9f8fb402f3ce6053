// What `dlite version` reports: the CLI and each plugin, this home's OS image (with its kernel and docker), the
// host's QEMU and the accelerator a start would use. Each part says why it is missing rather than failing.
import {isInstalled, readConfig} from '../config/index.js'
import {decideAccelerator} from '../host/accelerator-facts.js'
import {guestArchOf, probeQemu} from '../hypervisor/qemu-binary.js'
import {resolveCurrentImage} from '../image/index.js'
import {homeLayout} from '../paths.js'
import {run, which} from 'dlite-kit/exec'

export interface Versions {
  cli: string
  node: string
  plugins: Array<{name: string; version: string; type: string}>
  osImage: {version: string; kernel: string; docker: string; arch: string} | {missing: string}
  qemu: {path: string; version: string} | {missing: string}
  accelerator: {name: string; reason: string}
}

export async function gatherVersions(home: string, cli: {version: string; plugins: Versions['plugins']}): Promise<Versions> {
  // the QEMU and accelerator that run this home's image: its architecture, else the host's
  const osImage = await installedImage(home)
  const guestArch = guestArchOfImage(osImage)
  const [qemu, accelerator] = await Promise.all([probeQemu(which, run, guestArch), decideAccelerator('auto', {guestArch})])
  return {
    cli: cli.version,
    node: process.versions.node,
    plugins: cli.plugins,
    osImage,
    qemu: qemu.path && qemu.version ? {path: qemu.path, version: qemu.version.text}
      : {missing: qemu.path ? `${qemu.path} did not report a version: ${qemu.versionError ?? 'no output'}` : `${qemu.binaryName} not found: run dlite doctor for the fix`},
    accelerator: {name: accelerator.accelerator, reason: accelerator.reason},
  }
}

/** The architecture of the home's current OS image, when it is installed and names one dlite runs. */
export async function installedGuestArch(home: string): Promise<string | undefined> {
  return guestArchOfImage(await installedImage(home))
}

function guestArchOfImage(image: Versions['osImage']): string | undefined {
  if (!('arch' in image)) return undefined
  try {
    return guestArchOf(image.arch)
  } catch {
    return undefined
  }
}

async function installedImage(home: string): Promise<Versions['osImage']> {
  if (!isInstalled(home)) return {missing: `not installed in ${home}: run dlite install`}
  try {
    const config = await readConfig(home)
    const {manifest} = resolveCurrentImage(homeLayout(home).images, config.image.current)
    return {version: manifest.version, kernel: manifest.kernelVersion, docker: manifest.dockerVersion, arch: manifest.arch}
  } catch (error) {
    return {missing: (error as Error).message}
  }
}

export function renderVersions(v: Versions): string {
  const show = <T extends object>(part: T | {missing: string}, text: (p: T) => string) => ('missing' in part ? `- (${part.missing})` : text(part as T))
  return [
    `dlite       ${v.cli} (node ${v.node})`,
    ...v.plugins.map((p) => `plugin      ${p.name} ${p.version}${p.type === 'core' ? '' : ` (${p.type})`}`),
    `os image    ${show(v.osImage, (i: {version: string; kernel: string; docker: string; arch: string}) => `${i.version} (${i.arch}; kernel ${i.kernel}, docker ${i.docker})`)}`,
    `qemu        ${show(v.qemu, (q: {path: string; version: string}) => `${q.version} (${q.path})`)}`,
    `accelerator ${v.accelerator.name}: ${v.accelerator.reason}`,
  ].join('\n')
}
