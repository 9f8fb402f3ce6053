// Fetching an OS image into the store: every file is streamed into a work directory inside
// DLITE_HOME/images while its size and sha256 are checked against the manifest, and only a fully
// verified directory is renamed into place as images/<version>/. Any failure removes the work directory,
// so a bad, truncated or tampered download changes nothing.
import {createHash, randomBytes} from 'node:crypto'
import {createWriteStream} from 'node:fs'
import {mkdir, open, rename, rm, statfs, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {pipeline} from 'node:stream/promises'

import {imageContractProblem} from '../guest/contract.js'
import {removeOnExit} from '../util/exit-cleanup.js'
import {hostArch, normalizeArch, parseManifest, type Manifest, type ManifestFile} from './manifest.js'
import {describeSource, fileLocation, openImageFile, parseImageSource, readManifestText, type ImageSource} from './source.js'
import {
  imageDir,
  ImageVerificationError,
  INCOMING_PREFIX,
  MANIFEST_FILE,
  removeStaleWorkDirs,
  readInstalledManifestText,
  TRASH_PREFIX,
} from './store.js'

export interface ImageProgress {
  /** The file being fetched. */
  file: string
  fileBytes: number
  fileTotal: number
  /** Over all files of the image. */
  bytesDone: number
  bytesTotal: number
}

export interface FetchImageOptions {
  onProgress?: (progress: ImageProgress) => void
  signal?: AbortSignal
  /** Refuse an image for another architecture; defaults to the host's. `false` skips the check. */
  arch?: string | false
  /** Resolves a relative manifest path. */
  cwd?: string
  /** Replace an installed version of the same name whose files differ (otherwise that is an error). */
  replace?: boolean
}

export interface FetchedManifest {
  source: ImageSource
  manifest: Manifest
  /** The manifest exactly as served; stored verbatim next to the files. */
  text: string
}

export interface InstallImageResult {
  version: string
  dir: string
  manifest: Manifest
  /** True when this exact image was already installed: nothing was downloaded. */
  alreadyInstalled: boolean
  source: string
}

/** Reads and validates the manifest only, e.g. so `update` can say "already installed" without a download. */
export async function fetchImageManifest(source: string | ImageSource, opts: Pick<FetchImageOptions, 'signal' | 'cwd' | 'arch'> = {}): Promise<FetchedManifest> {
  const parsed = typeof source === 'string' ? parseImageSource(source, opts.cwd) : source
  const text = await readManifestText(parsed, opts.signal)
  const manifest = parseManifest(text, describeSource(parsed))
  const wanted = opts.arch === false ? undefined : normalizeArch(opts.arch ?? hostArch())
  if (wanted && normalizeArch(manifest.arch) !== wanted) {
    throw new Error(`${describeSource(parsed)}: OS image ${manifest.version} is for ${manifest.arch}, this host needs ${wanted}`)
  }
  return {source: parsed, manifest, text}
}

/** Same version and the same files (names, sizes, digests) means the same image. */
function sameImage(a: Manifest, b: Manifest): boolean {
  const key = (m: Manifest) => JSON.stringify(m.files.map((f) => [f.name, f.size, f.sha256]).sort())
  return a.version === b.version && key(a) === key(b)
}

export async function installImage(imagesDir: string, source: string | ImageSource, opts: FetchImageOptions = {}): Promise<InstallImageResult> {
  const fetched = await fetchImageManifest(source, opts)
  const {manifest} = fetched
  // refused before a byte of the image is fetched: this dlite could not talk to it
  const contract = imageContractProblem(manifest)
  if (contract) throw new Error(`${describeSource(fetched.source)}: ${contract}`)
  const target = imageDir(imagesDir, manifest.version)
  const result = {version: manifest.version, dir: target, manifest, source: describeSource(fetched.source)}

  const installedText = readInstalledManifestText(imagesDir, manifest.version)
  if (installedText !== undefined) {
    let installed: Manifest | undefined
    try {
      installed = parseManifest(installedText)
    } catch {
      installed = undefined
    }
    if (installed && sameImage(installed, manifest)) return {...result, alreadyInstalled: true}
    if (!opts.replace) {
      throw new Error(`OS image ${manifest.version} is already installed with different files in ${target}: remove it first, or replace it`)
    }
  }

  await mkdir(imagesDir, {recursive: true})
  removeStaleWorkDirs(imagesDir)
  await requireFreeSpace(imagesDir, manifest.totalSize)
  const work = join(imagesDir, `${INCOMING_PREFIX}${manifest.version}-${randomBytes(4).toString('hex')}`)
  await mkdir(work, {mode: 0o755})
  const release = removeOnExit(work)
  try {
    let done = 0
    for (const file of manifest.files) {
      await downloadVerified(fetched.source, file, join(work, file.name), opts, (fileBytes) => {
        opts.onProgress?.({file: file.name, fileBytes, fileTotal: file.size, bytesDone: done + fileBytes, bytesTotal: manifest.totalSize})
      })
      done += file.size
    }
    await writeFile(join(work, MANIFEST_FILE), fetched.text, {mode: 0o644})
    await syncDir(work)
    await moveIntoPlace(imagesDir, work, target)
  } catch (error) {
    await rm(work, {recursive: true, force: true})
    throw error
  } finally {
    release()
  }
  return {...result, alreadyInstalled: false}
}

async function downloadVerified(source: ImageSource, file: ManifestFile, dest: string, opts: FetchImageOptions, progress: (bytes: number) => void): Promise<void> {
  const where = fileLocation(source, file.name)
  const opened = await openImageFile(source, file.name, opts.signal)
  if (opened.length !== undefined && opened.length !== file.size) {
    opened.stream.destroy()
    throw new ImageVerificationError(file.name, `${file.size} bytes (manifest)`, `${opened.length} bytes`, where)
  }
  const hash = createHash('sha256')
  let bytes = 0
  progress(0)
  try {
    await pipeline(
      opened.stream,
      async function* verify(chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          bytes += chunk.length
          // Stop at the first byte too many: a hostile or broken server cannot fill the disk.
          if (bytes > file.size) throw new ImageVerificationError(file.name, `${file.size} bytes (manifest)`, `more than that`, where)
          hash.update(chunk)
          progress(bytes)
          yield chunk
        }
      },
      createWriteStream(dest, {flags: 'wx', mode: 0o644}),
      {signal: opts.signal},
    )
  } catch (error) {
    if (error instanceof ImageVerificationError || (error as Error).name === 'AbortError') throw error
    // A cut connection surfaces as "terminated" or similar: say which file and how far it got.
    const cause = (error as {cause?: {message?: string}}).cause?.message
    const detail = [(error as Error).message, cause].filter(Boolean).join(': ')
    throw new ImageVerificationError(file.name, `${file.size} bytes (manifest)`, `${bytes} bytes before the transfer failed (${detail})`, where)
  }
  if (bytes !== file.size) throw new ImageVerificationError(file.name, `${file.size} bytes (manifest)`, `${bytes} bytes (truncated download)`, where)
  const digest = hash.digest('hex')
  if (digest !== file.sha256) throw new ImageVerificationError(file.name, `sha256 ${file.sha256} (manifest)`, `sha256 ${digest}`, where)
  const handle = await open(dest, 'r')
  try {
    await handle.sync() // verified bytes must be on disk before the rename makes them "installed"
  } finally {
    await handle.close()
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } catch {
    // some file systems do not sync directories; the rename is still atomic
  } finally {
    await handle.close()
  }
}

/** rename() is atomic; replacing an existing version moves it aside first and removes it after. */
async function moveIntoPlace(imagesDir: string, work: string, target: string): Promise<void> {
  try {
    await rename(work, target)
    return
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error
  }
  const trash = join(imagesDir, `${TRASH_PREFIX}${randomBytes(4).toString('hex')}`)
  await rename(target, trash)
  await rename(work, target)
  await rm(trash, {recursive: true, force: true})
}

async function requireFreeSpace(dir: string, bytes: number): Promise<void> {
  const stats = await statfs(dir).catch(() => undefined)
  if (!stats) return
  const free = stats.bavail * stats.bsize
  if (free < bytes) {
    throw new Error(`not enough space in ${dir} for the OS image: it needs ${(bytes / 2 ** 20).toFixed(0)} MiB, ${(free / 2 ** 20).toFixed(0)} MiB are free`)
  }
}
