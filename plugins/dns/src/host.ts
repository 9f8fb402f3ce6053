// The real host for the resolver integration: this process's platform and environment, the file system, and
// programs run without a shell.
import {existsSync} from 'node:fs'

import {run} from 'dlite-kit/exec'

import type {ResolverHost} from './host-resolver.js'

// resolvectl and dscacheutil answer at once or are stuck: do not hold a command or the daemon's hook for ever.
const RESOLVER_TOOL_TIMEOUT_MS = 30_000

export function realHost(): ResolverHost {
  return {platform: process.platform, env: process.env, exists: existsSync, run: (command, args) => run(command, args, {timeoutMs: RESOLVER_TOOL_TIMEOUT_MS})}
}
