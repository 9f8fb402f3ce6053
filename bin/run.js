#!/usr/bin/env node
import {execute} from '@oclif/core'

import {keepRootToRootsPlugins} from '../dist/host/root-plugin-dir.js'

// before oclif finds plugins: as root, only root's own
const warning = keepRootToRootsPlugins()
if (warning) process.stderr.write(`${warning}\n`)

await execute({dir: import.meta.url})
