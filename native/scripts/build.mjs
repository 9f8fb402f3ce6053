// Builds the addon with node-gyp.
//   node scripts/build.mjs            incremental (make) when configured for this Node, else a full rebuild;
//                                     fails on error (used by `npm run build`)
//   node scripts/build.mjs --install  full rebuild from the `npm install` hook. A failed build does not fail
//                                     the whole install (the CLI still runs, and commands that need the addon
//                                     say it is missing and how to fix it) unless DLITE_NATIVE_STRICT=1.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const install = process.argv.includes('--install');
const stamp = join(root, 'build', '.dlite-node');
const thisNode = `${process.version} ${process.versions.modules} ${process.arch}`;

function gyp(args) {
  let bin;
  try {
    bin = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return { status: 1, error: new Error('node-gyp is not installed (run npm install)') };
  }
  return spawnSync(process.execPath, [bin, ...args], { cwd: root, stdio: 'inherit' });
}

const configured =
  existsSync(join(root, 'build', 'Makefile')) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === thisNode;
const result = !install && configured ? gyp(['build']) : gyp(['rebuild']);
if (result.status === 0) {
  writeFileSync(stamp, thisNode + '\n');
  process.exit(0);
}

const why = result.error ? result.error.message : `node-gyp exited with ${result.status ?? result.signal}`;
const message =
  `dlite-native: building the addon failed (${why}).\n` +
  'dlite cannot probe KVM or open tap devices without it. Install python3, make and g++ ' +
  '(Debian/Ubuntu: apt-get install -y python3 make g++), then run `npm rebuild dlite-native`.';
if (!install || process.env.DLITE_NATIVE_STRICT === '1') {
  console.error(message);
  process.exit(1);
}
console.warn(`\nWARNING ${message}\n`);
