// Image size from the built manifest: what a user downloads (the files as shipped, each compressed) and
// what the root holds once unpacked (unsquashfs's listing).
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'

import {BUILT_OS_MANIFEST} from '../test/helpers/dlite-cli.js'
import {round} from './stats.js'
import type {BenchResult} from './result.js'

const MB = 1_000_000

export async function imageSize(): Promise<BenchResult> {
  const manifest = JSON.parse(readFileSync(BUILT_OS_MANIFEST, 'utf8')) as {version: string; files: Array<{name: string; size: number; role?: string}>}
  const shipped = manifest.files.reduce((sum, f) => sum + f.size, 0)
  const root = manifest.files.find((f) => f.role === 'root')
  let unpacked = 0
  if (root) {
    const listing = execFileSync('unsquashfs', ['-lls', join(dirname(BUILT_OS_MANIFEST), root.name)], {encoding: 'utf8', maxBuffer: 64 * MB})
    for (const line of listing.split('\n')) {
      const size = /^-\S+\s+\S+\s+(\d+)\s/.exec(line)?.[1]
      if (size) unpacked += Number(size)
    }
  }
  const nonRoot = manifest.files.filter((f) => f !== root).reduce((sum, f) => sum + f.size, 0)
  return {
    name: 'image-size',
    method: `Sizes of ${manifest.version} from os/dist/manifest.json (kernel, initrd, squashfs root as shipped); ` +
      'unpacked = regular files listed by `unsquashfs -lls` plus kernel and initrd as shipped.',
    rows: [
      {metric: 'compressed (download)', value: round(shipped / MB, 1), unit: 'MB', target: '<= 64 MB', met: shipped <= 64 * MB},
      {metric: 'uncompressed (root unpacked + kernel + initrd)', value: round((unpacked + nonRoot) / MB, 1), unit: 'MB'},
    ],
  }
}
