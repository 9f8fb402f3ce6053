// There is no Docker Hub here, so tests build their own image: the busybox-static Debian package's binary
// plus its applet links, as a tarball for `docker import - busybox:local`. The host's busybox by default; a guest
// of another arch gets its own (the arm64 image's, os-boot-arm64.test.ts).
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, copyFileSync, chmodSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox']

export function findStaticBusybox(): string {
  for (const path of BUSYBOX_CANDIDATES) {
    if (!existsSync(path)) continue
    const kind = execFileSync('file', ['-L', path], {encoding: 'utf8'})
    if (/statically linked|static-pie/.test(kind)) return path
  }
  throw new Error('no static busybox found: apt-get install busybox-static (scripts/setup.sh does this)')
}

/** The applets a busybox binary has; none when this host cannot run it (another arch without binfmt_misc). */
function appletsOf(busybox: string): string[] {
  try {
    return execFileSync(busybox, ['--list'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).split('\n').filter(Boolean)
  } catch {
    return []
  }
}

/**
 * Returns the path of `<dir>/busybox-image.tar`, building it if it is not there yet, from `busybox` (a static
 * binary; default the host's). Without applet links (a foreign binary this host cannot list) containers run
 * `busybox APPLET ...`, as the tests do anyway.
 */
export async function busyboxImageTarball(dir: string, busybox?: string): Promise<string> {
  const tarball = join(dir, 'busybox-image.tar')
  if (existsSync(tarball)) return tarball
  busybox ??= findStaticBusybox()
  // Built outside `dir`, which may be a share with file events: the guest setting a file's time again right
  // after it was written changes its ctime, and tar then fails with "file changed as we read it".
  const root = mkdtempSync(join(tmpdir(), 'dlite-busybox-root-'))
  try {
    for (const sub of ['bin', 'etc', 'tmp', 'var/www']) mkdirSync(join(root, sub), {recursive: true})
    copyFileSync(busybox, join(root, 'bin/busybox'))
    chmodSync(join(root, 'bin/busybox'), 0o755)
    for (const applet of appletsOf(busybox)) {
      if (applet !== 'busybox') symlinkSync('busybox', join(root, 'bin', applet))
    }
    chmodSync(join(root, 'tmp'), 0o1777)
    execFileSync('tar', ['-C', root, '--owner=0', '--group=0', '-cf', `${tarball}.part`, '.'])
    execFileSync('mv', [`${tarball}.part`, tarball])
  } finally {
    rmSync(root, {recursive: true, force: true})
  }
  return tarball
}
