#!/usr/bin/env node
import {fileURLToPath} from 'node:url'

import {installCompileCache} from '../dist/host/compile-cache.js'
import {installedPluginsAllowed} from '../dist/host/root-plugin-dir.js'

// before any CommonJS module loads (oclif and its dependencies): their V8 code cache, when this process may use one
installCompileCache()

// before oclif finds plugins: as root, installed ones only from a directory that is root's alone
const plugins = installedPluginsAllowed()
if (plugins.warning) process.stderr.write(`${plugins.warning}\n`)

const {execute} = await import('@oclif/core')
await execute(plugins.allowed ? {dir: import.meta.url} : {loadOptions: {root: fileURLToPath(import.meta.url), userPlugins: false}})
