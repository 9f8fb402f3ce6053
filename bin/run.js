#!/usr/bin/env node
import {fileURLToPath} from 'node:url'

import {installCompileCache} from '../dist/host/compile-cache.js'

// before any CommonJS module loads (oclif and its dependencies): their V8 code cache, when this process may use one
installCompileCache()

// before oclif finds plugins: as root, installed ones only from a directory that is root's alone (a user's process
// loads its own, and does not load the check)
const plugins = process.getuid?.() === 0 ? (await import('../dist/host/root-plugin-dir.js')).installedPluginsAllowed() : {allowed: true}
if (plugins.warning) process.stderr.write(`${plugins.warning}\n`)

// @oclif/core checks its own engines.node with semver (47 files) as it loads: dlite's engines.node asks more
const engineWarning = process.env.OCLIF_DISABLE_ENGINE_WARNING
process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
const {execute} = await import('@oclif/core')
if (engineWarning === undefined) delete process.env.OCLIF_DISABLE_ENGINE_WARNING
else process.env.OCLIF_DISABLE_ENGINE_WARNING = engineWarning

await execute(plugins.allowed ? {dir: import.meta.url} : {loadOptions: {root: fileURLToPath(import.meta.url), userPlugins: false}})
