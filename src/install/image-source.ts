// Which OS image `dlite install` uses when --os is not given, in a documented order, so that an install
// outside a checkout does not dead-end:
//   1. --os (the caller checks its value);
//   2. an image shipped beside the CLI: <cli root>/os/dist/manifest.json (a checkout, or a package that ships one);
//   3. the image a previous `dlite os build` wrote: osBuildDir()/manifest.json (<data dir>/dlite/os);
//   4. this release's manifest, named with its sha256 in the CLI's package.json: "dliteOs": {"manifest": "https://…",
//      "sha256": "<64 hex>"}; used only when well-formed (https, 64 hex digits), otherwise ignored with a warning;
//   5. nothing: a usage error whose fix names `dlite os build` and --os.
// Pure: the file system and package.json come in as facts.
import {join} from 'node:path'

import type {ValidationError} from './validate.js'

/** `wizard`: typed in the install wizard. */
export type ImageOrigin = 'flag' | 'wizard' | 'beside-cli' | 'os-build' | 'release'

export interface ImageSearchFacts {
  /** The CLI package's root (oclif's config.root). */
  cliRoot: string
  /** Where `dlite os build` writes its image (osBuildDir()). */
  osBuildDir: string
  /** Whether a regular file is at `path`. */
  isFile(path: string): boolean
  /** The `dliteOs` field of the CLI's package.json, as parsed (anything: it is checked here). */
  releaseField?: unknown
}

export interface ReleaseImage {
  /** The manifest's https:// URL. */
  manifest: string
  /** The manifest's pinned sha256, lower-case hex. */
  sha256: string
}

export interface FoundImage {
  source: string
  origin: ImageOrigin
  /** For the release's manifest: its pinned sha256 (recorded; the image's files are verified against the manifest). */
  sha256?: string
}

export interface ImageSearch {
  /** The image to use, or undefined when none was found (see noImageError). */
  found?: FoundImage
  /** Every place looked at, in order, for messages. */
  searched: string[]
  /** Problems worth a warning that did not stop the search (a malformed release field). */
  warnings: string[]
}

export const RELEASE_FIELD = 'dliteOs'
const SHA256 = /^[0-9a-f]{64}$/i

/** The release's manifest from package.json's field, or why it is unusable; undefined when the field is absent. */
export function parseReleaseField(field: unknown): {ok: true; value: ReleaseImage} | {ok: false; reason: string} | undefined {
  if (field === undefined) return undefined
  if (typeof field !== 'object' || field === null || Array.isArray(field)) return {ok: false, reason: 'it is not an object'}
  const {manifest, sha256} = field as Record<string, unknown>
  if (typeof manifest !== 'string') return {ok: false, reason: 'its "manifest" is not a string'}
  let url: URL
  try {
    url = new URL(manifest)
  } catch {
    return {ok: false, reason: `its "manifest" ${JSON.stringify(manifest)} is not a URL`}
  }
  if (url.protocol !== 'https:') return {ok: false, reason: `its "manifest" ${JSON.stringify(manifest)} is not an https:// URL`}
  if (typeof sha256 !== 'string' || !SHA256.test(sha256)) return {ok: false, reason: 'its "sha256" is not 64 hexadecimal digits'}
  return {ok: true, value: {manifest: url.href, sha256: sha256.toLowerCase()}}
}

/** The image to install: --os when given, else the first of the places above that has one. */
export function findImageSource(flag: string | undefined, facts: ImageSearchFacts): ImageSearch {
  const warnings: string[] = []
  if (flag !== undefined) return {found: {source: flag, origin: 'flag'}, searched: [], warnings}
  const beside = join(facts.cliRoot, 'os', 'dist', 'manifest.json')
  const built = join(facts.osBuildDir, 'manifest.json')
  const searched = [beside, built]
  if (facts.isFile(beside)) return {found: {source: beside, origin: 'beside-cli'}, searched, warnings}
  if (facts.isFile(built)) return {found: {source: built, origin: 'os-build'}, searched, warnings}
  const release = parseReleaseField(facts.releaseField)
  // the pin travels in the source (and the config), so install and every later update check the manifest by it
  if (release?.ok) return {found: {source: `${release.value.manifest}#sha256=${release.value.sha256}`, origin: 'release', sha256: release.value.sha256}, searched, warnings}
  if (release) warnings.push(`package.json's "${RELEASE_FIELD}" is ignored: ${release.reason}`)
  return {searched, warnings}
}

/** The usage error when no image was found: what was looked at, and the command that builds one. */
export function noImageError(searched: string[] = []): ValidationError {
  const where = searched.length > 0 ? ` (looked for ${searched.join(' and ')}; this release names no image to download)` : ''
  return {
    flag: '--os',
    message: `no OS image was found${where}`,
    fix: 'build one with `sudo dlite os build` (Linux; it writes the image where install looks), or pass --os PATH|URL of a manifest.json',
  }
}

/** A few words on where the image came from, for messages and the wizard. */
export function describeOrigin(origin: ImageOrigin): string {
  return {
    flag: 'from --os', wizard: 'the image you named', 'beside-cli': 'the image shipped beside the CLI',
    'os-build': 'the image `dlite os build` made', release: "this release's image",
  }[origin]
}
