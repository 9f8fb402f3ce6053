// The `dlite` docker context, so `docker --context dlite` (or `docker context use dlite`) reaches the VM.
// Run as the user who owns the install, so it lands in their own docker config, not root's.
import {run, which, type ExecResult} from '../util/exec.js'

/** The default home's context is `dlite`; other homes get their own so they never overwrite each other. */
export function contextName(homeIsDefault: boolean, homeId: string): string {
  return homeIsDefault ? 'dlite' : `dlite-${homeId}`
}

export interface ContextOwner {
  uid: number
  gid: number
  home: string
}

export type ContextResult = {ok: true; action: 'created' | 'updated' | 'removed'} | {ok: false; reason: string}

async function docker(args: string[], owner?: ContextOwner): Promise<ExecResult> {
  const path = which('docker')
  if (!path) return {code: 127, stdout: '', stderr: 'the docker CLI is not installed'}
  if (!owner || owner.uid === process.getuid?.()) return run(path, args)
  // Drop to the owner's identity through setpriv (util-linux) so files get their ownership.
  return run('setpriv', [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--init-groups', path, ...args], {
    env: {...process.env, HOME: owner.home, DOCKER_CONFIG: `${owner.home}/.docker`},
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
