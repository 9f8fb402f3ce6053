// `dlite install` as a listr2 pipeline. Everything is built in a staging directory next to DLITE_HOME and
// moved into place by one rename at the end, so a failure at any step (a bad download, a full disk,
// Ctrl-C) leaves the previous state exactly as it was.
import {existsSync, mkdirSync, renameSync, rmSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

import {Listr, type ListrTask} from 'listr2'

import type {Renderer} from 'dlite-kit/errors'

import type {ConfigOwner, DliteConfig} from '../config/index.js'
import {createConfig} from '../config/store.js'
import {createSparseDisk} from '../disk/index.js'
import {createTlsBundle, writeTlsFiles} from '../guest/tls.js'
import {installImage} from '../image/index.js'
import {progressBar} from '../tasks/progress-bar.js'
import {ensureClientKey, ensureHostKey, keyPaths, writeKnownHosts} from '../keys/index.js'
import {parseSubnet} from '../network/subnet.js'
import {homeLayout} from '../paths.js'
import {homeService, type ServiceManager} from '../service/index.js'
import {removeOnExit} from '../util/exit-cleanup.js'
import type {InstallOptions} from './validate.js'

export interface InstallPlan {
  home: string
  options: InstallOptions
  owner: ConfigOwner
  /** The CLI entry the service runs (`<entry> daemon`). */
  entry: string
  /** Whether `home` is the default ~/.dlite (plain service and context names). */
  isDefaultHome: boolean
  /** Replace an existing install. */
  force: boolean
}

export interface InstallOutcome {
  home: string
  imageVersion: string
  service: 'systemd' | 'launchd' | 'none'
  diskAllocatedBytes: number
}

interface Context {
  staging: string
  imageVersion?: string
  service?: InstallOutcome['service']
  diskAllocatedBytes?: number
  registered?: ServiceManager
  moved?: boolean
}

export function installTasks(plan: InstallPlan): ListrTask<Context>[] {
  const {options} = plan
  const subnet = parseSubnet(options.subnet)
  return [
    {
      title: 'Create the dlite home',
      task: (ctx) => {
        const layout = homeLayout(ctx.staging)
        mkdirSync(ctx.staging, {recursive: true, mode: 0o755})
        for (const dir of [layout.images, layout.logs, layout.run]) mkdirSync(dir, {recursive: true, mode: 0o755})
        for (const dir of [layout.keys, layout.tls]) mkdirSync(dir, {recursive: true, mode: 0o700})
      },
    },
    {
      title: 'Fetch and verify the OS image',
      task: async (ctx, task) => {
        const result = await installImage(homeLayout(ctx.staging).images, options.osSource, {
          onProgress: (p) => {
            task.output = progressBar(p)
          },
        })
        ctx.imageVersion = result.version
        task.title = `OS image ${result.version} verified (${result.manifest.files.length} files, sha256)`
      },
      rendererOptions: {outputBar: 1},
    },
    {
      title: `Create a sparse ${options.diskGiB} GiB disk`,
      task: async (ctx, task) => {
        const usage = await createSparseDisk(homeLayout(ctx.staging).disk, options.diskGiB)
        ctx.diskAllocatedBytes = usage.allocatedBytes
        task.title = `Sparse ${options.diskGiB} GiB disk created (${(usage.allocatedBytes / 1024).toFixed(0)} KiB allocated)`
      },
    },
    {
      title: 'Create SSH keys and pin the VM host key',
      task: async (ctx) => {
        const keysDir = homeLayout(ctx.staging).keys
        await ensureClientKey(keysDir, {comment: `dlite@${options.hostname}`})
        const host = await ensureHostKey(keysDir, {comment: options.hostname})
        await writeKnownHosts(keyPaths(keysDir).knownHosts, {ip: subnet.vmIp, hostname: options.hostname, hostPublicKey: host.publicKeyText})
      },
    },
    {
      title: 'Create the TLS CA, server and client certificates',
      task: async (ctx) => {
        // 127.0.0.1: where a user-mode VM's dockerd is reached (a forwarded port); the VM's address when bridged
        const bundle = await createTlsBundle({serverNames: [subnet.vmIp, options.hostname, '127.0.0.1']})
        await writeTlsFiles(homeLayout(ctx.staging).tls, bundle)
      },
    },
    {
      title: 'Write the configuration',
      task: (ctx) => {
        const config: DliteConfig = {
          ...options, image: {current: ctx.imageVersion!}, createdAt: new Date().toISOString(), owner: plan.owner,
        }
        createConfig(ctx.staging, config)
      },
    },
    {
      title: 'Register the service',
      task: async (ctx, task) => {
        const manager = homeService(plan.home, plan.entry, options.network)
        ctx.service = manager?.kind ?? 'none'
        if (!manager) {
          task.skip('no service manager here (systemd is not PID 1): dlite start runs the daemon itself')
          return
        }
        await manager.install()
        ctx.registered = manager
        // after install: a launchd plist loaded with RunAtLoad would start the VM right now
        if (options.autostart) await manager.setAutostart(true)
        task.title = `Registered ${manager.kind} service ${manager.id}${options.autostart ? ', started at login' : ''}`
      },
    },
    {
      title: 'Move the new home into place',
      task: (ctx) => {
        const old = `${plan.home}.replaced-${process.pid}`
        if (existsSync(plan.home)) renameSync(plan.home, old)
        renameSync(ctx.staging, plan.home)
        ctx.moved = true
        rmSync(old, {recursive: true, force: true})
      },
    },
  ]
}

export async function runInstall(plan: InstallPlan, renderer: Renderer): Promise<InstallOutcome> {
  const staging = join(dirname(plan.home), `.${basename(plan.home)}.installing-${process.pid}`)
  const ctx: Context = {staging}
  const release = removeOnExit(staging)
  try {
    await new Listr<Context>(installTasks(plan), {renderer: renderer as 'default', exitOnError: true, ctx}).run(ctx)
  } catch (error) {
    // The service was registered for a home that never arrived: take it back.
    if (ctx.registered && !ctx.moved) await ctx.registered.uninstall().catch(() => {})
    throw error
  } finally {
    rmSync(staging, {recursive: true, force: true})
    release()
  }
  return {home: plan.home, imageVersion: ctx.imageVersion!, service: ctx.service ?? 'none', diskAllocatedBytes: ctx.diskAllocatedBytes ?? 0}
}
