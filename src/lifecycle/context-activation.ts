// Making this home's docker context the current one, as Colima does, so a plain `docker ps` reaches the VM; and
// putting back the context that was current before, when dlite is uninstalled. The context the user had last
// (before dlite's took over) is kept in DLITE_HOME/docker-context.previous.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {DliteConfig} from '../config/index.js'
import {currentDockerContext, useDockerContext, type ContextOwner} from '../docker/context.js'
import {writeFileAtomic} from 'dlite-kit/atomic-write'

export interface ContextActivation {
  context: string
  /** made current, already current, or why not */
  outcome: 'made current' | 'already current' | 'not activated' | 'failed'
  /** What docker used before (restored by uninstall). */
  previous?: string
  /** An environment variable that overrides the current context for this shell, with the fix. */
  overriddenBy?: string
  reason?: string
}

/** Docker's docs name these two as what wins over the current context. */
const OVERRIDES = ['DOCKER_HOST', 'DOCKER_CONTEXT'] as const

export function previousContextPath(home: string): string {
  return join(home, 'docker-context.previous')
}

export function readPreviousContext(home: string): string | undefined {
  try {
    return readFileSync(previousContextPath(home), 'utf8').trim() || undefined
  } catch {
    return undefined
  }
}

/** Whether a start should make the context current: the start's own flag, else the config (default: yes). */
export function shouldActivate(flag: boolean | undefined, config: Pick<DliteConfig, 'activateContext'>): boolean {
  return flag ?? config.activateContext ?? true
}

export async function activateContext(home: string, context: string, owner: ContextOwner | undefined, env: NodeJS.ProcessEnv = process.env): Promise<ContextActivation> {
  const override = OVERRIDES.find((name) => env[name] && !(name === 'DOCKER_CONTEXT' && env[name] === context))
  const overriddenBy = override && `${override} is set in this shell and wins over the current context (unset ${override}, or eval "$(dlite env)")`
  const current = await currentDockerContext(owner)
  if (current === context) return {context, outcome: 'already current', previous: readPreviousContext(home), overriddenBy}
  const made = await useDockerContext(context, owner)
  if (!made.ok) return {context, outcome: 'failed', reason: made.reason, overriddenBy}
  // The last context the user chose before dlite's: a later `docker context use x` then `dlite start` keeps x.
  if (current) await writeFileAtomic(previousContextPath(home), `${current}\n`, 0o644)
  return {context, outcome: 'made current', previous: current, overriddenBy}
}

/**
 * For uninstall: when this home's context is current, the one before it becomes current again (or docker's
 * `default` when it is gone). Another context the user chose since is left alone.
 */
export async function restorePreviousContext(home: string, context: string, owner: ContextOwner | undefined): Promise<string | undefined> {
  if ((await currentDockerContext(owner)) !== context) return undefined
  const previous = readPreviousContext(home)
  if (previous && previous !== context && (await useDockerContext(previous, owner)).ok) return previous
  return (await useDockerContext('default', owner)).ok ? 'default' : undefined
}
