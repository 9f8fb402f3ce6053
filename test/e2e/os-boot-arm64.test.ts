// Boot smoke test of the arm64 guest OS image (`npm run os:build -- --arch arm64`, os/dist-arm64) under
// qemu-system-aarch64's emulation here (virt, direct kernel boot, TCG), inside a private network namespace
// (DESIGN.md §5): dockerd answers over TLS with a client certificate, a local arm64 busybox image runs, two
// shares mount (virtiofs and 9p) and containers read them, and the guest powers off on virt's GPIO power key.
// These are test/helpers/os-boot-suite.ts's steps without the x86_64 test's discard, ssh, idle-memory and
// second-boot checks: those test the same guest scripts again, and cost CI about two minutes more.
//
// Skipped, saying so, when os/dist-arm64 has no image (scripts/setup.sh builds it unless --no-arm64) or there
// is no qemu-system-aarch64.
// Env: DLITE_OS_DIST_ARM64 (default os/dist-arm64); os-boot-suite's DLITE_TEST_ACCEL, DLITE_TEST_KEEP and
//      DLITE_TEST_DOCKER_ARGS.
import {execFileSync} from 'node:child_process'
import {chmodSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describeOsBoot} from '../helpers/os-boot-suite.js'

const repo = path.resolve(import.meta.dirname, '../..')

describeOsBoot({
  title: 'arm64 guest OS image: boot smoke test (qemu-system-aarch64, TCG, sandbox namespace)',
  arch: 'aarch64',
  dist: path.resolve(process.env.DLITE_OS_DIST_ARM64 ?? path.join(repo, 'os/dist-arm64')),
  missing: {skip: 'build it with `sudo npm run os:build -- --arch arm64` (scripts/setup.sh does unless --no-arm64)'},
  // both transports: each mounts on arm64 too (a few seconds more than one)
  shares: ['virtiofs', '9p'],
  // the containers' busybox: the image's own (arm64), out of its root
  busybox(work, dist) {
    const bin = path.join(work, 'busybox-arm64')
    writeFileSync(bin, execFileSync('unsquashfs', ['-cat', path.join(dist, 'root.img'), 'usr/bin/busybox'], {maxBuffer: 16 << 20}))
    chmodSync(bin, 0o755)
    return bin
  },
  full: false,
  bootTimeoutMs: 600_000,
})
