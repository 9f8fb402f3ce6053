// The installed OS images of one home: DLITE_HOME/images/<version>/ with the image files and the
// manifest.json they were verified against. Which version boots is the config's business (image.current,
// image.previous); this module lists, resolves, re-verifies and prunes.
import {createHash} from 'node:crypto'
import {createReadStream, existsSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {pipeline} from 'node:stream/promises'

import {fileForRole, parseManifest, VERSION_PATTERN, type Manifest} from './manifest.js'

export const MANIFEST_FILE = 'manifest.json'
/** Prefixes of the store's own work directories (never an installed version: versions start alphanumeric). */
export const INCOMING_PREFIX = '.incoming-'
export const TRASH_PREFIX = '.trash-'

export interface InstalledImage {
  version: string
  dir: string
  manifest: Manifest
  /** When the version was moved into place (mtime of its manifest). */
  installedAt: Date
}

/** An installed image with the paths QEMU needs. */
export interface ResolvedImage extends InstalledImage {
  kernel: string
  initrd: string
  /** The root file system image, when the image has one (the initrd may carry everything). */
  root?: string
  kernelCmdline?: string
}

export class ImageNotInstalledError extends Error {
  constructor(readonly version: string, readonly imagesDir: string, detail = 'is not installed') {
    super(`OS image ${version} ${detail} in ${imagesDir}: run \`dlite update\` (or \`dlite install --force\`) to fetch it`)
    this.name = 'ImageNotInstalledError'
  }
}

export class ImageVerificationError extends Error {
  constructor(readonly file: string, readonly expected: string, readonly actual: string, where: string) {
    super(`${file}: ${where}: expected ${expected}, got ${actual}`)
    this.name = 'ImageVerificationError'
  }
}

export function imageDir(imagesDir: string, version: string): string {
  if (!VERSION_PATTERN.test(version)) throw new Error(`not an image version: ${JSON.stringify(version)}`)
  return join(imagesDir, version)
}

function readInstalled(imagesDir: string, version: string): InstalledImage | undefined {
  const dir = join(imagesDir, version)
  const manifestPath = join(dir, MANIFEST_FILE)
  try {
    const manifest = parseManifest(readFileSync(manifestPath, 'utf8'), manifestPath)
    if (manifest.version !== version) return undefined
    return {version, dir, manifest, installedAt: statSync(manifestPath).mtime}
  } catch {
    return undefined
  }
}

/** Installed versions, newest install first. Directories without a valid manifest are not images. */
export function listInstalledImages(imagesDir: string): InstalledImage[] {
  if (!existsSync(imagesDir)) return []
  return readdirSync(imagesDir, {withFileTypes: true})
    .filter((entry) => entry.isDirectory() && VERSION_PATTERN.test(entry.name))
    .map((entry) => readInstalled(imagesDir, entry.name))
    .filter((image): image is InstalledImage => image !== undefined)
    .sort((a, b) => b.installedAt.getTime() - a.installedAt.getTime())
}

export function isImageInstalled(imagesDir: string, version: string): boolean {
  return VERSION_PATTERN.test(version) && readInstalled(imagesDir, version) !== undefined
}

/** An installed version with its boot files; throws ImageNotInstalledError when absent or incomplete. */
export function resolveImage(imagesDir: string, version: string): ResolvedImage {
  if (!VERSION_PATTERN.test(version)) throw new ImageNotInstalledError(version, imagesDir)
  const image = readInstalled(imagesDir, version)
  if (!image) throw new ImageNotInstalledError(version, imagesDir)
  for (const file of image.manifest.files) {
    const size = statSync(join(image.dir, file.name), {throwIfNoEntry: false})?.size
    if (size !== file.size) throw new ImageNotInstalledError(version, imagesDir, `is incomplete (${file.name} is missing or has the wrong size)`)
  }
  const kernel = fileForRole(image.manifest, 'kernel')
  const initrd = fileForRole(image.manifest, 'initrd')
  if (!kernel || !initrd) throw new ImageNotInstalledError(version, imagesDir, 'has no kernel or initrd in its manifest')
  const root = fileForRole(image.manifest, 'root')
  return {
    ...image,
    kernel: join(image.dir, kernel.name),
    initrd: join(image.dir, initrd.name),
    ...(root ? {root: join(image.dir, root.name)} : {}),
    ...(image.manifest.kernelCmdline ? {kernelCmdline: image.manifest.kernelCmdline} : {}),
  }
}

/** The image the config says is current (config.image.current). */
export function resolveCurrentImage(imagesDir: string, currentVersion: string): ResolvedImage {
  return resolveImage(imagesDir, currentVersion)
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256')
  await pipeline(createReadStream(path), hash)
  return hash.digest('hex')
}

/** Re-hashes an installed image against its manifest (e.g. for doctor, or before booting after a crash). */
export async function verifyInstalledImage(imagesDir: string, version: string): Promise<void> {
  const image = readInstalled(imagesDir, version)
  if (!image) throw new ImageNotInstalledError(version, imagesDir)
  for (const file of image.manifest.files) {
    const path = join(image.dir, file.name)
    const size = statSync(path, {throwIfNoEntry: false})?.size
    if (size === undefined) throw new ImageVerificationError(file.name, `${file.size} bytes`, 'no file', path)
    if (size !== file.size) throw new ImageVerificationError(file.name, `${file.size} bytes`, `${size} bytes`, path)
    const digest = await sha256Of(path)
    if (digest !== file.sha256) throw new ImageVerificationError(file.name, `sha256 ${file.sha256}`, `sha256 ${digest}`, path)
  }
}

export function removeImage(imagesDir: string, version: string): void {
  rmSync(imageDir(imagesDir, version), {recursive: true, force: true})
}

/**
 * Removes every installed version not in `keep` (pass config.image.current and .previous) and leftovers
 * of interrupted installs. Returns the versions removed.
 */
export function pruneImages(imagesDir: string, keep: (string | undefined)[]): string[] {
  const kept = new Set(keep.filter((v): v is string => typeof v === 'string'))
  // An empty keep list would remove every image, including the one the VM boots: always a caller bug.
  if (kept.size === 0) throw new Error('pruneImages: keep must name at least the current version')
  if (!existsSync(imagesDir)) return []
  const removed: string[] = []
  removeStaleWorkDirs(imagesDir)
  for (const entry of readdirSync(imagesDir, {withFileTypes: true})) {
    if (entry.isDirectory() && VERSION_PATTERN.test(entry.name) && !kept.has(entry.name) && readInstalled(imagesDir, entry.name)) {
      rmSync(join(imagesDir, entry.name), {recursive: true, force: true})
      removed.push(entry.name)
    }
  }
  return removed
}

/** Work directories of another install that may still be running are left for an hour. */
const STALE_WORK_DIR_MS = 60 * 60 * 1000

/** Removes leftovers of interrupted installs (work and trash directories older than an hour). */
export function removeStaleWorkDirs(imagesDir: string, now = Date.now()): void {
  if (!existsSync(imagesDir)) return
  for (const entry of readdirSync(imagesDir, {withFileTypes: true})) {
    if (!entry.isDirectory() || !(entry.name.startsWith(INCOMING_PREFIX) || entry.name.startsWith(TRASH_PREFIX))) continue
    const path = join(imagesDir, entry.name)
    const info = statSync(path, {throwIfNoEntry: false})
    if (info && now - info.mtimeMs > STALE_WORK_DIR_MS) rmSync(path, {recursive: true, force: true})
  }
}

/** The stored manifest text of an installed version, or undefined. */
export function readInstalledManifestText(imagesDir: string, version: string): string | undefined {
  try {
    return readFileSync(join(imageDir(imagesDir, version), MANIFEST_FILE), 'utf8')
  } catch {
    return undefined
  }
}
