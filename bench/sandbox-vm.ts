// A dlite VM for benchmarks: installed and started inside a private network namespace, torn down after.
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {busyboxImageTarball} from '../test/helpers/busybox-image.js'
import {BUILT_OS_MANIFEST, dliteCli, type CliRunner} from '../test/helpers/dlite-cli.js'
import {createNetns, type Netns} from '../test/helpers/netns.js'

export interface SandboxVm {
  ns: Netns
  dir: string
  home: string
  socket: string
  cli: CliRunner
  /** The docker CLI through the VM's host socket, inside the namespace; its stdout, or an Error with its stderr. */
  docker(args: string[]): Promise<string>
  /** Imports the tests' busybox image as `busybox:local` (there is no registry here). */
  importBusybox(): Promise<void>
  close(): Promise<void>
}

/**
 * `env` goes to every dlite command (and so to the daemon that `start` spawns). `network` defaults to bridged:
 * most benchmarks compare against the VM's own address.
 */
export async function sandboxVm(options: {start: boolean; env?: Record<string, string>; network?: 'user' | 'bridged'}): Promise<SandboxVm> {
  const ns = await createNetns('dlite-bench')
  const dir = mkdtempSync(join(tmpdir(), 'dlite-bench-'))
  const home = join(dir, 'home')
  const socket = join(dir, 'run', 'docker.sock')
  mkdirSync(join(dir, 'docker-config'))
  const cli = dliteCli({...options.env, DLITE_HOME: home, DOCKER_CONFIG: join(dir, 'docker-config')}, ns)
  const close = async () => {
    await cli(['stop', '--cold', '--timeout', '10']).catch(() => {})
    await ns.remove()
    rmSync(dir, {recursive: true, force: true})
  }
  try {
    const installed = await cli(['install', '--yes', '--network', options.network ?? 'bridged', '--os', BUILT_OS_MANIFEST, '-c', '2', '-m', '2', '-d', '10',
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
  const docker = async (args: string[]) => {
    const r = await ns.run('docker', ['-H', `unix://${socket}`, ...args], {timeoutMs: 900_000, env: {...process.env, DOCKER_CONFIG: join(dir, 'docker-config')}})
    if (r.code !== 0) throw new Error(`docker ${args.slice(0, 2).join(' ')} failed: ${r.stderr}`)
    return r.stdout
  }
  const importBusybox = async () => {
    await docker(['import', await busyboxImageTarball(dir), 'busybox:local'])
  }
  return {ns, dir, home, socket, cli, docker, importBusybox, close}
}
