// `dlite os build`: the guest OS builder (os/build.js, mmdebstrap + chroot, so Linux and root) run into a staging
// directory of root's own, then the finished image delivered into the output directory (by default osBuildDir(),
// where `dlite install` looks). Under sudo the delivery runs as the invoking user, in a child process with their
// uid and gid: the files are theirs, and root never writes, chowns or follows a path in a directory the user
// controls (DESIGN.md §6). Each file is copied through an O_EXCL|O_NOFOLLOW temporary, checked against the
// manifest's sha256, and renamed into place; the manifest goes last, so a reader never sees a manifest whose files
// are not in place (the old manifest is removed first).
import {spawn} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {
  chmodSync, closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, realpathSync,
  renameSync, rmSync, statSync, unlinkSync, writeSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {MANIFEST_FILE} from './store.js'
import {parseManifest} from './manifest.js'

export interface BuiltImage {
  /** The manifest's path in the output directory. */
  manifest: string
  version: string
  outDir: string
}

export interface BuildHostFacts {
  platform: NodeJS.Platform
  /** process.getuid(); undefined where there is none. */
  uid: number | undefined
}

/** Why this host cannot build the image, with the fix; undefined when it can. */
export function buildRefusal(facts: BuildHostFacts, sudo: () => string): {message: string; fix: string} | undefined {
  if (facts.platform !== 'linux') {
    return {
      message: `the guest OS is built from Debian packages with mmdebstrap and chroot, which run only on Linux (this is ${facts.platform})`,
      fix: 'build it on a Linux machine or VM and pass its manifest to `dlite install --os PATH|URL`',
    }
  }
  if (facts.uid !== 0) {
    return {
      message: 'building the guest OS needs root: mmdebstrap and chroot assemble its file system as root',
      fix: `run: ${sudo()}  (the image is written as you)`,
    }
  }
  return undefined
}

/** The directories sudo's secure_path usually holds: a command found there is what `sudo NAME` runs. */
const SUDO_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']

function shellWord(word: string): string {
  return /^[A-Za-z0-9_./=:@%+,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`
}

/**
 * The command that runs this same CLI as root: `sudo dlite ARGS` when sudo would find this very dlite and node on
 * its path, else `sudo NODE ENTRY ARGS` (an npm prefix in your home, or node from nvm, is not on sudo's path).
 */
export function sudoCommand(args: string[], facts: {execPath: string; entry: string; realpath(path: string): string | undefined}): string {
  const onSudoPath = (name: string) => SUDO_PATH.map((dir) => facts.realpath(join(dir, name))).find((path) => path !== undefined)
  const dlite = onSudoPath('dlite')
  const node = onSudoPath('node')
  const short = dlite !== undefined && dlite === facts.realpath(facts.entry) && node !== undefined && node === facts.realpath(facts.execPath)
  return ['sudo', ...(short ? ['dlite'] : [facts.execPath, facts.entry]), ...args].map(shellWord).join(' ')
}

export function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path)
  } catch {
    return undefined
  }
}

/**
 * A fresh staging directory of root's own (0700) for the builder's output: in the temporary directory when root
 * owns it, else in /tmp (a TMPDIR that sudo kept may be the user's).
 */
export function makeStagingDir(): string {
  let parent = tmpdir()
  try {
    const st = lstatSync(parent)
    if (!st.isDirectory() || st.uid !== process.getuid?.()) parent = '/tmp'
  } catch {
    parent = '/tmp'
  }
  return mkdtempSync(join(parent, 'dlite-os-build-'))
}

/** Runs os/build.js into `outDir`, its progress on our stderr (and the tools' stdout too, when `quietStdout`). */
export async function runBuilder(opts: {builder: string; outDir: string; force?: boolean; quietStdout?: boolean}): Promise<void> {
  const args = [opts.builder, '--out', opts.outDir, ...(opts.force ? ['--force'] : [])]
  const env = {...process.env}
  delete env.DLITE_OS_OUT
  const child = spawn(process.execPath, args, {stdio: ['ignore', opts.quietStdout ? 2 : 'inherit', 'inherit'], env})
  const code = await new Promise<number | string>((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', (status, signal) => resolve(status ?? signal ?? 'unknown'))
  })
  if (code !== 0) throw new Error(`the builder (${opts.builder}) failed (exit ${code}); its output above says why`)
}

/** Lets the invoking user read what root built in its staging directory (an OS image holds no secrets). */
export function openStagingToUser(stage: string): void {
  chmodSync(stage, 0o755)
  for (const name of [MANIFEST_FILE, ...stagedManifest(stage).files.map((f) => f.name)]) {
    const path = join(stage, name)
    if (!lstatSync(path).isFile()) throw new Error(`${path} is not a regular file`)
    chmodSync(path, 0o644)
  }
}

function stagedManifest(stage: string) {
  return parseManifest(readFileSync(join(stage, MANIFEST_FILE), 'utf8'), join(stage, MANIFEST_FILE))
}

/** Copies `from` to `<dir>/<name>` through a temporary that never follows a link; checks the sha256 when given. */
function copyInto(from: string, dir: string, name: string, sha256?: string): void {
  const tmp = join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`)
  const src = openSync(from, constants.O_RDONLY | constants.O_NOFOLLOW)
  let dst: number | undefined
  try {
    if (!fstatSync(src).isFile()) throw new Error(`${from} is not a regular file`)
    dst = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644)
    const hash = createHash('sha256')
    const buffer = Buffer.alloc(1 << 20)
    let n: number
    while ((n = readSync(src, buffer, 0, buffer.length, null)) > 0) {
      hash.update(buffer.subarray(0, n))
      let written = 0
      while (written < n) written += writeSync(dst, buffer, written, n - written)
    }
    const digest = hash.digest('hex')
    if (sha256 !== undefined && digest !== sha256) throw new Error(`${name}: sha256 ${digest} does not match the manifest's ${sha256}`)
    fsyncSync(dst)
    closeSync(dst)
    dst = undefined
    renameSync(tmp, join(dir, name))
  } catch (error) {
    if (dst !== undefined) closeSync(dst)
    rmSync(tmp, {force: true})
    throw error
  } finally {
    closeSync(src)
  }
}

/** Delivers the image staged in `stage` into `outDir` (created when missing), as whoever runs this. */
export function deliverImage(stage: string, outDir: string): BuiltImage {
  const manifest = stagedManifest(stage)
  mkdirSync(outDir, {recursive: true, mode: 0o755})
  if (!statSync(outDir).isDirectory()) throw new Error(`${outDir} is not a directory`)
  const target = join(outDir, MANIFEST_FILE)
  // no manifest while its files change: a reader sees the old image, none, or the new one whole
  try {
    unlinkSync(target)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  for (const file of manifest.files) copyInto(join(stage, file.name), outDir, file.name, file.sha256)
  copyInto(join(stage, MANIFEST_FILE), outDir, MANIFEST_FILE)
  return {manifest: target, version: manifest.version, outDir}
}

// Run by `node --input-type=module -e` as the invoking user: argv is [node, moduleUrl, stage, outDir].
const DELIVER_AS_USER = `
const [, url, stage, outDir] = process.argv
try {
  const {deliverImage} = await import(url)
  process.stdout.write(JSON.stringify(deliverImage(stage, outDir)))
} catch (error) {
  process.stderr.write(String(error?.message ?? error))
  process.exitCode = 1
}`

/** deliverImage in a child process with the user's uid and gid (libuv drops root's supplementary groups too). */
export async function deliverImageAs(stage: string, outDir: string, user: {uid: number; gid: number}): Promise<BuiltImage> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', DELIVER_AS_USER, import.meta.url, stage, outDir], {
    uid: user.uid, gid: user.gid, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'],
    env: {PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: process.env.LANG ?? 'C'},
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
  const code = await new Promise<number | string>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (status, signal) => resolve(status ?? signal ?? 'unknown'))
  })
  if (code !== 0) throw new Error(`cannot write the image into ${outDir} as uid ${user.uid}: ${stderr.trim() || `exit ${code}`}`)
  return JSON.parse(stdout) as BuiltImage
}
