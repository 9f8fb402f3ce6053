#!/usr/bin/env -S node --loader ts-node/esm --disable-warning=ExperimentalWarning
import {execute} from '@oclif/core'

import {keepRootToRootsPlugins} from '../src/host/root-plugin-dir.ts'

// before oclif finds plugins: as root, only root's own (as bin/run.js)
const warning = keepRootToRootsPlugins()
if (warning) process.stderr.write(`${warning}\n`)

await execute({development: true, dir: import.meta.url})
