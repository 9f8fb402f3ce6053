// The real host for the resolver integration: this process's platform and environment, the file system, and
// programs run without a shell.
import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'

import type {ResolverHost, Runner} from './host-resolver.js'

const runProgram: Runner = (command, args) => new Promise((resolve) => {
  execFile(command, args, {timeout: 30_000}, (error, stdout, stderr) => {
    const code = error ? (typeof error.code === 'number' ? error.code : 127) : 0
    resolve({code, stdout: String(stdout), stderr: error && !stderr ? error.message : String(stderr)})
  })
})

export function realHost(): ResolverHost {
  return {platform: process.platform, env: process.env, exists: existsSync, run: runProgram}
}
