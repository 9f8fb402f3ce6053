// The `dlite` docker context, so `docker --context dlite` reaches the VM, and which context is current (start
// makes dlite's current, so a plain `docker ps` reaches the VM). Run as the user who owns the install, so it
// lands in their own docker config, not root's.
import {homeId} from '../network/names.js'
import {profileOf} from '../paths.js'
import {run, which, type ExecResult} from 'dlite-kit/exec'

/**
 * The default home's context is `dlite`, a profile's `dlite-NAME`; any other home gets one from its id, so
 * homes never overwrite each other's.
 */
export function contextName(home: string): string {
  const profile = profileOf(home)
  if (profile === 'default') return 'dlite'
  return `dlite-${profile ?? homeId(home)}`
}

export interface ContextOwner {
  uid: number
  gid: number
  home: string
}

export type ContextResult = {ok: true; action: 'created' | 'updated' | 'removed' | 'made current'} | {ok: false; reason: string}

async function docker(args: string[], owner?: ContextOwner, envChanges: Record<string, string | undefined> = {}): Promise<ExecResult> {
  const path = which('docker')
  if (!path) return {code: 127, stdout: '', stderr: 'the docker CLI is not installed'}
  const withChanges = (env: NodeJS.ProcessEnv) => {
    const changed = {...env, ...envChanges}
    for (const [key, value] of Object.entries(envChanges)) if (value === undefined) delete changed[key]
    return changed
  }
  if (!owner || owner.uid === process.getuid?.()) return run(path, args, {env: withChanges(process.env)})
  // Drop to the owner's identity through setpriv (util-linux) so files get their ownership.
  return run('setpriv', [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--init-groups', path, ...args], {
    env: withChanges({...process.env, HOME: owner.home, DOCKER_CONFIG: `${owner.home}/.docker`}),
  })
}

export async function ensureDockerContext(name: string, socketPath: string, description: string, owner?: ContextOwner): Promise<ContextResult> {
  const endpoint = `host=unix://${socketPath}`
  const exists = (await docker(['context', 'inspect', name], owner)).code === 0
  const result = await docker(
    exists
      ? ['context', 'update', name, '--description', description, '--docker', endpoint]
      : ['context', 'create', name, '--description', description, '--docker', endpoint],
    owner,
  )
  if (result.code !== 0) return {ok: false, reason: result.stderr.trim() || `docker exited ${result.code}`}
  return {ok: true, action: exists ? 'updated' : 'created'}
}

export async function removeDockerContext(name: string, owner?: ContextOwner): Promise<ContextResult> {
  if ((await docker(['context', 'inspect', name], owner)).code !== 0) return {ok: true, action: 'removed'}
  // A context in use cannot be removed; --force switches the user back to the default context first.
  const result = await docker(['context', 'rm', '--force', name], owner)
  return result.code === 0 ? {ok: true, action: 'removed'} : {ok: false, reason: result.stderr.trim()}
}

/** The context the owner's docker CLI uses when neither DOCKER_HOST nor DOCKER_CONTEXT says otherwise; undefined when docker cannot say. */
export async function currentDockerContext(owner?: ContextOwner): Promise<string | undefined> {
  // `docker context show` honours DOCKER_CONTEXT and DOCKER_HOST; the config file's choice is what is asked here
  const result = await docker(['context', 'show'], owner, {DOCKER_CONTEXT: undefined, DOCKER_HOST: undefined})
  return result.code === 0 && result.stdout.trim() ? result.stdout.trim() : undefined
}

export async function useDockerContext(name: string, owner?: ContextOwner): Promise<ContextResult> {
  const result = await docker(['context', 'use', name], owner)
  return result.code === 0 ? {ok: true, action: 'made current'} : {ok: false, reason: result.stderr.trim() || `docker exited ${result.code}`}
}
