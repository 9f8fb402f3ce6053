// The main job, from a checkout: a container answering through your own docker CLI. There is no registry to
// pull from on every machine, so the image is made here (the static busybox of the busybox-static package,
// imported as dlite/busybox:local); then `docker run` of it, through whatever context `dlite start` made current.
// Run after `dlite start`: node --import tsx scripts/hello-container.ts
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {busyboxImageTarball} from '../test/helpers/busybox-image.js'

const dir = mkdtempSync(join(tmpdir(), 'dlite-hello-'))
try {
  const tarball = await busyboxImageTarball(dir)
  execFileSync('docker', ['import', tarball, 'dlite/busybox:local'], {stdio: ['ignore', 'ignore', 'inherit']})
  execFileSync('docker', ['run', '--rm', 'dlite/busybox:local', 'sh', '-c', 'echo "hello from a container in dlite ($(uname -r))"'], {stdio: 'inherit'})
} finally {
  rmSync(dir, {recursive: true, force: true})
}
