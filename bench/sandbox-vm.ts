// A dlite VM for benchmarks: installed and started inside a private network namespace, torn down after.
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BUILT_OS_MANIFEST, dliteCli, type CliRunner} from '../test/helpers/dlite-cli.js'
import {createNetns, type Netns} from '../test/helpers/netns.js'

export interface SandboxVm {
  ns: Netns
  dir: string
  home: string
  socket: string
  cli: CliRunner
  close(): Promise<void>
}

/** `env` goes to every dlite command (and so to the daemon that `start` spawns). */
export async function sandboxVm(options: {start: boolean; env?: Record<string, string>}): Promise<SandboxVm> {
  const ns = await createNetns('dlite-bench')
  const dir = mkdtempSync(join(tmpdir(), 'dlite-bench-'))
  const home = join(dir, 'home')
  const socket = join(dir, 'run', 'docker.sock')
  mkdirSync(join(dir, 'docker-config'))
  const cli = dliteCli({...options.env, DLITE_HOME: home, DOCKER_CONFIG: join(dir, 'docker-config')}, ns)
  const close = async () => {
    await cli(['stop', '--timeout', '10']).catch(() => {})
    await ns.remove()
    rmSync(dir, {recursive: true, force: true})
  }
  try {
    const installed = await cli(['install', '--yes', '--os', BUILT_OS_MANIFEST, '-c', '2', '-m', '2', '-d', '10',
      '--share', dir, '--docker-socket', socket, '--ssh-key', 'none'])
    if (installed.code !== 0) throw new Error(`install failed: ${installed.stderr}`)
    if (options.start) {
      const started = await cli(['start', '--timeout', '400'], {timeoutMs: 420_000})
      if (started.code !== 0) throw new Error(`start failed: ${started.stderr}`)
    }
  } catch (error) {
    await close()
    throw error
  }
  return {ns, dir, home, socket, cli, close}
}
