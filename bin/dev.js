#!/usr/bin/env -S node --loader ts-node/esm --disable-warning=ExperimentalWarning
import {execute} from '@oclif/core'
import {fileURLToPath} from 'node:url'

import {installedPluginsAllowed} from '../src/host/root-plugin-dir.ts'

// as bin/run.js: as root, installed plugins only from a directory that is root's alone
const plugins = installedPluginsAllowed()
if (plugins.warning) process.stderr.write(`${plugins.warning}\n`)

await execute(plugins.allowed ? {development: true, dir: import.meta.url} : {development: true, loadOptions: {root: fileURLToPath(import.meta.url), userPlugins: false}})
