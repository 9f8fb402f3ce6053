#!/usr/bin/env node
import {execute} from '@oclif/core'
import {fileURLToPath} from 'node:url'

import {installedPluginsAllowed} from '../dist/host/root-plugin-dir.js'

// before oclif finds plugins: as root, installed ones only from a directory that is root's alone
const plugins = installedPluginsAllowed()
if (plugins.warning) process.stderr.write(`${plugins.warning}\n`)

await execute(plugins.allowed ? {dir: import.meta.url} : {loadOptions: {root: fileURLToPath(import.meta.url), userPlugins: false}})
