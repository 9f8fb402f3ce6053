#!/usr/bin/env node
// dlite guest OS builder: `npm run os:build [-- options]`.
//
//   --force             rebuild even when the cache holds this inputs hash
//   --arch A            Debian architecture of the guest: amd64 (default) or arm64 (env DLITE_OS_ARCH)
//   --out DIR           output directory (default os/dist, os/dist-arm64 for arm64; env DLITE_OS_OUT)
//   --version V         version stamped into the image and manifest (env DLITE_OS_VERSION)
//   --broken            build an image whose initrd hangs before the root is mounted
//                       (for watchdog tests; env DLITE_OS_BROKEN=1)
//   --mirror URL        Debian mirror (env DLITE_OS_MIRROR; default: the host's apt mirror)
//   --compression C     squashfs compressor: zstd (default), lz4, xz, gzip (env DLITE_OS_COMP)
//
// Two caches, per arch, in the builder's own cache directory (DLITE_OS_CACHE, else $XDG_CACHE_HOME/dlite/os,
// else ~/.cache/dlite/os), so that every clone on a machine shares them: base-<arch>-<hash>.tar (the
// mmdebstrap output; keyed by the package list, suite, mirror and arch) and dist-<arch>-<inputsHash>/ (a
// finished image).
// See os/README.md.
import {createHash} from 'node:crypto'
import {spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {CONTRACT, contractShell} from './contract.js'
import {ManifestError, manifestDocument, parseManifest} from './manifest-format.js'

const osDir = path.dirname(fileURLToPath(import.meta.url))
const cacheDir = process.env.DLITE_OS_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'dlite', 'os')

export const SUITE = 'trixie'
// the packages every guest gets, the kernel package after them per arch
const COMMON_PACKAGES = [
  'docker.io',
  'containerd',
  'runc',
  'iptables',
  'openssh-server',
  'e2fsprogs',
  'sudo',
  'kmod',
  'busybox-static',
  'ca-certificates',
  'dnsmasq-base',
]
// Files of the image, in the order the manifest lists them.
export const IMAGE_FILES = [
  {name: 'vmlinuz', role: 'kernel'},
  {name: 'initrd.img', role: 'initrd'},
  {name: 'root.img', role: 'root', format: 'squashfs'},
]
// oops=panic: a kernel that oopsed keeps running with a process killed mid-way and state it can no longer trust
// (dockerd gone, a file system half-written); a panic instead makes QEMU exit and the host boots the VM again.
// no mitigations=off here: under kvm and hvf the guest keeps its Spectre/Meltdown mitigations (containers are
// its users); dlite adds it only under tcg, whose emulated CPU does not speculate (TCG_KERNEL_ARGS)
// page_reporting_order=5: the balloon's free page reporting hands back free blocks of 128 KiB and more (the kernel's
// default is 2 MiB blocks, which the freed pages of a booted guest rarely form: ~60 MiB stayed with QEMU)
const CMDLINE_TAIL = 'panic=-1 oops=panic loglevel=4 printk.time=1 page_reporting.page_reporting_order=5'
// Per Debian architecture: the guest arch dlite names it by (the manifest's `arch`, QEMU's qemu-system-<arch>),
// the kernel package, the console (ttyS0 on q35/microvm; virt's serial port is the PL011, ttyAMA0), the
// default output directory (os/dist stays the x86_64 image everything else boots) and the C cross compiler
// with its packages (for a host of the other arch).
export const ARCHES = {
  amd64: {
    guest: 'x86_64', kernel: 'linux-image-amd64', console: 'console=ttyS0,115200', out: 'dist',
    cc: 'x86_64-linux-gnu-gcc', ccPackages: 'gcc-x86-64-linux-gnu libc6-dev-amd64-cross',
  },
  arm64: {
    guest: 'aarch64', kernel: 'linux-image-arm64', console: 'console=ttyAMA0', out: 'dist-arm64',
    cc: 'aarch64-linux-gnu-gcc', ccPackages: 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross',
  },
}
// the Debian arch of the machine building (node's names)
const HOST_ARCH = {x64: 'amd64', arm64: 'arm64'}[process.arch]
export const packagesFor = (arch) => [ARCHES[arch].kernel, ...COMMON_PACKAGES]
export const kernelCmdlineFor = (arch) => `${ARCHES[arch].console} ${CMDLINE_TAIL}`
// the x86_64 image's, as before
export const ARCH = 'amd64'
export const PACKAGES = packagesFor(ARCH)
export const KERNEL_CMDLINE = kernelCmdlineFor(ARCH)

function parseArgs(argv) {
  const opts = {
    force: false,
    arch: process.env.DLITE_OS_ARCH || ARCH,
    out: process.env.DLITE_OS_OUT || '',
    version: process.env.DLITE_OS_VERSION || '',
    broken: process.env.DLITE_OS_BROKEN === '1',
    mirror: process.env.DLITE_OS_MIRROR || '',
    compression: process.env.DLITE_OS_COMP || 'zstd',
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      const v = argv[++i]
      if (v === undefined) usage(`${a} needs a value`)
      return v
    }
    if (a === '--force' || a === '-f') opts.force = true
    else if (a === '--arch') opts.arch = value()
    else if (a === '--out' || a === '-o') opts.out = value()
    else if (a === '--version') opts.version = value()
    else if (a === '--broken') opts.broken = true
    else if (a === '--mirror') opts.mirror = value()
    else if (a === '--compression') opts.compression = value()
    else if (a === '--help' || a === '-h') usage()
    else usage(`unknown argument ${a}`)
  }
  if (!['zstd', 'lz4', 'xz', 'gzip'].includes(opts.compression)) usage(`unknown compression ${opts.compression}`)
  if (!Object.hasOwn(ARCHES, opts.arch)) usage(`unknown arch ${opts.arch} (amd64 or arm64)`)
  opts.out = path.resolve(opts.out || path.join(osDir, ARCHES[opts.arch].out))
  return opts
}

function usage(err) {
  const text = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 13)
    .map((l) => l.replace(/^\/\/ ?/, '')).join('\n')
  if (err) {
    console.error(`os:build: ${err}\n\n${text}`)
    process.exit(2)
  }
  console.log(text)
  process.exit(0)
}

function log(msg) {
  console.error(`[os:build] ${msg}`)
}

function die(msg, code = 1) {
  console.error(`os:build: ${msg}`)
  process.exit(code)
}

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, cmd)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return p
    } catch {}
  }
  return null
}

// The C compiler for the guest's agents: the host's own for its arch, else the Debian cross compiler.
function compilerFor(arch) {
  return arch === HOST_ARCH ? 'cc' : ARCHES[arch].cc
}

function checkHost(arch) {
  if (os.platform() !== 'linux') die('the guest OS is built on Linux (Debian/Ubuntu); use a Linux machine or VM')
  if (process.getuid && process.getuid() !== 0) die('run as root (mmdebstrap --mode=root and chroot need it): sudo npm run os:build')
  const need = {
    mmdebstrap: 'mmdebstrap',
    mksquashfs: 'squashfs-tools',
    cpio: 'cpio',
    zstd: 'zstd',
    xz: 'xz-utils',
    chroot: 'coreutils',
    cc: 'gcc libc6-dev',
  }
  // another arch's image: mmdebstrap checks that arch with arch-test; a cross compiler with its static libc
  if (arch !== HOST_ARCH) Object.assign(need, {'arch-test': 'arch-test', [ARCHES[arch].cc]: ARCHES[arch].ccPackages})
  const missing = Object.entries(need).filter(([cmd]) => !which(cmd))
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map(([, p]) => p))].join(' ')
    die(`missing tools: ${missing.map(([c]) => c).join(', ')}\n  install them with: apt-get install -y ${pkgs}`)
  }
  // a foreign arch's maintainer scripts (and assemble.sh's chroot calls) run under qemu-user through binfmt_misc
  if (arch !== HOST_ARCH) {
    const binfmt = `/proc/sys/fs/binfmt_misc/qemu-${ARCHES[arch].guest}`
    let entry = ''
    try {
      entry = fs.readFileSync(binfmt, 'utf8')
    } catch {}
    // F: the kernel opens the interpreter when it is registered, so it also works inside the chroot
    if (!/^enabled/m.test(entry) || !/^flags:.*F/m.test(entry)) {
      die(`building an ${arch} image on ${HOST_ARCH ?? process.arch} needs qemu-user-static registered with binfmt_misc (${binfmt}, flag F)\n` +
        '  install it with: apt-get install -y qemu-user-static binfmt-support; where binfmt_misc is not mounted:\n' +
        `  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && update-binfmts --enable qemu-${ARCHES[arch].guest}\n` +
        '  (scripts/setup.sh does all this)')
    }
  }
  if (!fs.existsSync('/usr/share/keyrings/debian-archive-keyring.gpg')) {
    die('missing the Debian archive keyring; install it with: apt-get install -y debian-archive-keyring')
  }
}

// The Debian mirror the host's apt uses (so it works where only that mirror is reachable).
function hostMirror() {
  const files = ['/etc/apt/sources.list']
  try {
    for (const f of fs.readdirSync('/etc/apt/sources.list.d')) files.push(path.join('/etc/apt/sources.list.d', f))
  } catch {}
  for (const f of files) {
    let text
    try {
      text = fs.readFileSync(f, 'utf8')
    } catch {
      continue
    }
    const m = text.match(/^URIs:\s*(\S+\/debian)\/?\s*$/m) || text.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s/m)
    if (m) return m[1]
  }
  return 'http://deb.debian.org/debian'
}

function sha256File(file) {
  const h = createHash('sha256')
  const fd = fs.openSync(file, 'r')
  const buf = Buffer.alloc(1 << 20)
  let n
  while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n))
  fs.closeSync(fd)
  return h.digest('hex')
}

function listFiles(dir) {
  const out = []
  for (const e of fs.readdirSync(dir, {withFileTypes: true})) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...listFiles(p))
    else out.push(p)
  }
  return out.sort()
}

// Hash of everything that determines the image: the builder sources under os/
// (minus docs, caches and outputs) plus the options.
function inputsHash(opts, baseHash) {
  const h = createHash('sha256')
  h.update(JSON.stringify({baseHash, version: opts.version, broken: opts.broken, compression: opts.compression}))
  for (const sub of ['build.js', 'contract.js', 'contract.json', 'manifest-format.js', 'scripts', 'initrd', 'rootfs', 'src']) {
    const p = path.join(osDir, sub)
    const files = fs.statSync(p).isDirectory() ? listFiles(p) : [p]
    for (const f of files) {
      const st = fs.lstatSync(f)
      h.update(`${path.relative(osDir, f)}\0`)
      h.update(st.isSymbolicLink() ? fs.readlinkSync(f) : fs.readFileSync(f))
      h.update('\0')
    }
  }
  return h.digest('hex')
}

class BuildError extends Error {}

function run(cmd, args, env = {}) {
  log(`$ ${[cmd, ...args].join(' ')}`)
  const r = spawnSync(cmd, args, {stdio: ['ignore', 'inherit', 'inherit'], env: {...process.env, ...env}})
  const what = path.basename(args[0] ?? cmd)
  if (r.error) throw new BuildError(`${what}: ${r.error.message}`)
  if (r.status !== 0) throw new BuildError(`${what} failed (exit ${r.status ?? r.signal})`)
}

// Keep the current base and the newest few finished images; older ones only fill the disk.
// Per arch: another arch's base and images stay (both images are built on the same machine). Names without an
// arch (base-<hash>.tar, dist-<hash>, from before there were two) go too.
function pruneCache(arch, keepBase, keepDist) {
  const entries = fs.readdirSync(cacheDir).map((name) => ({name, mtime: fs.statSync(path.join(cacheDir, name)).mtimeMs}))
  const legacy = (name) => /^(base|dist)-[0-9a-f]{16}(\.tar)?$/.test(name)
  for (const e of entries) {
    if ((e.name.startsWith(`base-${arch}-`) && e.name !== keepBase) || legacy(e.name)) fs.rmSync(path.join(cacheDir, e.name), {recursive: true, force: true})
  }
  const dists = entries.filter((e) => e.name.startsWith(`dist-${arch}-`) && e.name !== keepDist).sort((a, b) => b.mtime - a.mtime)
  for (const e of dists.slice(3)) fs.rmSync(path.join(cacheDir, e.name), {recursive: true, force: true})
}

function copyDir(src, dst) {
  fs.mkdirSync(dst, {recursive: true})
  // manifest.json last: a reader never sees a manifest whose files are not in place
  const names = fs.readdirSync(src).sort((a, b) => Number(a === 'manifest.json') - Number(b === 'manifest.json'))
  for (const e of names) {
    fs.copyFileSync(path.join(src, e), path.join(dst, `.${e}.tmp`))
    fs.renameSync(path.join(dst, `.${e}.tmp`), path.join(dst, e))
  }
}

function main() {
  const opts = parseArgs(process.argv.slice(2))
  const t0 = Date.now()
  const mirror = opts.mirror || hostMirror()
  const {arch} = opts
  const packages = packagesFor(arch)
  const baseKey = createHash('sha256')
    .update(JSON.stringify({suite: SUITE, arch, mirror, packages}))
    .update(fs.readFileSync(path.join(osDir, 'scripts/mkbase.sh')))
    .update(fs.readFileSync(path.join(osDir, 'scripts/divert-initramfs.sh')))
    .digest('hex')
  const hash = inputsHash(opts, baseKey)
  const distCache = path.join(cacheDir, `dist-${arch}-${hash.slice(0, 16)}`)
  const outManifest = path.join(opts.out, 'manifest.json')

  if (!opts.force && fs.existsSync(path.join(distCache, 'manifest.json'))) {
    // already up to date?
    try {
      const m = JSON.parse(fs.readFileSync(outManifest, 'utf8'))
      // the manifest must be the cached one byte for byte: an edited one (another version, other digests) is replaced
      const same = fs.readFileSync(outManifest).equals(fs.readFileSync(path.join(distCache, 'manifest.json')))
      if (same && m.inputsHash === hash && m.files.every((f) => fs.existsSync(path.join(opts.out, f.name)) && fs.statSync(path.join(opts.out, f.name)).size === f.size)) {
        log(`up to date: ${opts.out} (inputs ${hash.slice(0, 12)})`)
        return
      }
    } catch {}
    log(`cache hit (inputs ${hash.slice(0, 12)}); copying to ${opts.out}`)
    copyDir(distCache, opts.out)
    log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    return
  }

  checkHost(arch)
  fs.mkdirSync(cacheDir, {recursive: true})
  const baseTar = path.join(cacheDir, `base-${arch}-${baseKey.slice(0, 16)}.tar`)
  if (opts.force || !fs.existsSync(baseTar)) {
    log(`building the Debian ${SUITE} ${arch} base from ${mirror} (${arch === 'amd64' ? 'about a minute' : 'a few minutes under qemu-user'})`)
    run('bash', [path.join(osDir, 'scripts/mkbase.sh'), baseTar, SUITE, mirror, arch, packages.join(',')])
  } else {
    log(`reusing base ${path.relative(process.cwd(), baseTar)}`)
  }

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dlite-os-'))
  const stageOut = path.join(work, 'out')
  try {
    const version = opts.version || `0.0.0-dev.${hash.slice(0, 8)}`
    // the guest scripts' values, from the contract the host reads too
    const contractFile = path.join(work, 'contract.sh')
    fs.writeFileSync(contractFile, contractShell())
    run('bash', [path.join(osDir, 'scripts/assemble.sh'), baseTar, path.join(work, 'tree'), stageOut], {
      DLITE_OS_CONTRACT: contractFile,
      DLITE_OS_VERSION: version,
      DLITE_OS_BROKEN: opts.broken ? '1' : '0',
      DLITE_OS_COMP: opts.compression,
      DLITE_OS_ARCH: arch,
      DLITE_OS_CC: compilerFor(arch),
    })
    const info = Object.fromEntries(
      fs.readFileSync(path.join(stageOut, 'build-info.env'), 'utf8').trim().split('\n').map((l) => {
        const i = l.indexOf('=')
        return [l.slice(0, i), l.slice(i + 1)]
      }),
    )
    fs.rmSync(path.join(stageOut, 'build-info.env'))
    const files = IMAGE_FILES.map((f) => {
      const p = path.join(stageOut, f.name)
      return {...f, size: fs.statSync(p).size, sha256: sha256File(p)}
    })
    const pkgs = path.join(stageOut, 'packages.txt')
    const manifest = manifestDocument({
      version,
      arch: ARCHES[arch].guest,
      debian: {suite: SUITE, arch},
      kernel: {version: info.KERNEL_VERSION, cmdline: kernelCmdlineFor(arch)},
      docker: {version: info.DOCKER_VERSION, containerd: info.CONTAINERD_VERSION, runc: info.RUNC_VERSION},
      broken: opts.broken,
      contract: CONTRACT.contract,
      files,
      packages: fs.readFileSync(pkgs, 'utf8').trim().split('\n').length,
      inputsHash: hash,
      builtAt: new Date().toISOString(),
    })
    fs.rmSync(pkgs)
    const text = JSON.stringify(manifest, null, 2) + '\n'
    // read back with the parser dlite itself uses: an image dlite would refuse is not published
    parseManifest(text, 'os:build manifest.json')
    fs.writeFileSync(path.join(stageOut, 'manifest.json'), text)
    fs.rmSync(distCache, {recursive: true, force: true})
    copyDir(stageOut, distCache)
    copyDir(stageOut, opts.out)
    log(`built ${manifest.version} (${arch}): kernel ${info.KERNEL_VERSION}, docker ${info.DOCKER_VERSION}, ` +
      `${(manifest.totalSize / 1048576).toFixed(1)} MiB in ${((Date.now() - t0) / 1000).toFixed(0)} s -> ${opts.out}`)
    pruneCache(arch, path.basename(baseTar), path.basename(distCache))
  } finally {
    fs.rmSync(work, {recursive: true, force: true})
  }
}

try {
  main()
} catch (error) {
  if (error instanceof BuildError || error instanceof ManifestError) die(error.message)
  throw error
}
