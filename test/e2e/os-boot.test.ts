// Boot smoke test of the x86_64 guest OS image (issue 3), inside a private network namespace
// (DESIGN.md §5): boots os/dist with QEMU (TCG here), reaches dockerd over TLS with a
// client certificate, imports and runs a local image, checks the share (virtiofs), ssh with a
// pinned host key, powers off through ACPI (QEMU must exit by itself within 30 s),
// boots again: the image is still there and the data disk needed no recovery.
// The steps are test/helpers/os-boot-suite.ts's, shared with the arm64 image's test (os-boot-arm64.test.ts).
//
// Env: DLITE_OS_DIST (default os/dist; built with `node os/build.js` when missing),
//      DLITE_TEST_ACCEL (default tcg: the nested KVM here hangs stock kernels),
//      DLITE_TEST_KEEP=1 keeps the work directory,
//      DLITE_TEST_DOCKER_ARGS extra dockerd arguments (e.g. --iptables=false).
import path from 'node:path'

import {describeOsBoot} from '../helpers/os-boot-suite.js'

const repo = path.resolve(import.meta.dirname, '../..')

describeOsBoot({
  title: 'guest OS image: boot smoke test (TCG, sandbox namespace)',
  arch: 'x86_64',
  dist: path.resolve(process.env.DLITE_OS_DIST ?? path.join(repo, 'os/dist')),
  missing: {build: []},
  shares: ['virtiofs'],
  full: true,
})
