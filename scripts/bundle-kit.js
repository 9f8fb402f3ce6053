#!/usr/bin/env node
// Puts a real copy of dlite-kit inside a plugin's own node_modules for `npm pack`, and takes it out again.
// The plugin lists the kit in bundleDependencies so its tarball carries the exact kit it was built with
// (installable with `dlite plugins install file:…` where the registry has no dlite-kit), but in this
// workspace the kit is a hoisted symlink, which npm does not bundle.
//   node ../../scripts/bundle-kit.js add      (prepack, run in the plugin's directory)
//   node ../../scripts/bundle-kit.js remove   (postpack)
import {cpSync, existsSync, mkdirSync, readdirSync, rmSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const kit = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'kit')
const modules = join(process.cwd(), 'node_modules')
const target = join(modules, 'dlite-kit')

const action = process.argv[2]
if (action === 'add') {
  if (!existsSync(join(kit, 'dist', 'index.js'))) {
    console.error(`bundle-kit: ${kit}/dist is missing; build it first: npm run build -w dlite-kit`)
    process.exit(1)
  }
  rmSync(target, {recursive: true, force: true})
  mkdirSync(target, {recursive: true})
  for (const part of ['package.json', 'README.md', 'dist']) cpSync(join(kit, part), join(target, part), {recursive: true})
} else if (action === 'remove') {
  rmSync(target, {recursive: true, force: true})
  if (existsSync(modules) && readdirSync(modules).length === 0) rmSync(modules, {recursive: true})
} else {
  console.error('usage: bundle-kit.js add|remove')
  process.exit(2)
}
