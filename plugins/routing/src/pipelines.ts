// The work behind `dlite routing enable | disable | status`, each a listr2 pipeline the command renders (or
// keeps silent for --json). Commands run as the user: whatever needs root is asked of the daemon.
import {Listr, type ListrTask} from 'listr2'

import {CommandError, type Renderer} from 'dlite-kit/errors'

import type {Dlite} from './dlite.js'
import {probeTcp, type ProbeResult} from './live-check.js'
import type {DisableAnswer, EnableAnswer, RoutingRequest, StatusAnswer} from './requests.js'
import type {NetworkState, RouteEntry} from './router.js'
import type {SkippedNetwork} from './docker-networks.js'
import {PLUGIN_NAME, readSetting, writeSetting} from './setting.js'


/** The daemon applies routes through the guest over ssh: slow under software emulation, hence the margin. */
const REQUEST_TIMEOUT_MS = 180_000

interface VmFound {
  home: string
  stateDir: string
  vm?: {ip: string}
}

export interface EnableOutcome {
  enabled: true
  vmRunning: boolean
  /** `now` when the running VM was routed; `next start` otherwise. */
  applied: 'now' | 'next start'
  routes: RouteEntry[]
  skipped: SkippedNetwork[]
  guestRule?: {parent: string; nic: string}
}

export interface DisableOutcome {
  enabled: false
  vmRunning: boolean
  removedRoutes: string[]
  guestRuleRemoved: boolean
}

export interface StatusOutcome {
  enabled: boolean
  vmRunning: boolean
  vmIp?: string
  /** Whether the daemon follows docker's network events right now. */
  watching: boolean
  routes: RouteEntry[]
  networks: NetworkState[]
  skipped: SkippedNetwork[]
  guestRule: 'present' | 'absent' | 'unknown' | 'not running'
  liveCheck: {method: 'tcp-connect'; reachable: boolean | null; results: ProbeResult[]}
}

function listr<Ctx extends object>(tasks: ConstructorParameters<typeof Listr<Ctx>>[0], renderer: Renderer): Listr<Ctx> {
  return new Listr<Ctx>(tasks, {renderer: renderer as 'default', exitOnError: true, rendererOptions: {collapseErrors: false}} as never)
}

async function findVm(dlite: Dlite): Promise<VmFound> {
  const context = await dlite.vmContext()
  if (!context.installed) throw new CommandError(`dlite is not installed in ${context.home}`, 'run `dlite install` first')
  if (context.network === 'user') {
    throw new CommandError(`dlite-routing needs a VM with its own address on this host, and the VM in ${context.home} uses user-mode networking (reached only through ports on 127.0.0.1)`, dlite.ROUTABLE_VM_FIX)
  }
  return {home: context.home, stateDir: dlite.pluginStateDir(context.home, PLUGIN_NAME), ...(context.vm ? {vm: {ip: context.vm.ip}} : {})}
}

async function ask<T>(dlite: Dlite, home: string, request: RoutingRequest): Promise<T> {
  try {
    return (await dlite.sendPluginRequest(home, PLUGIN_NAME, request, REQUEST_TIMEOUT_MS)) as T
  } catch (error) {
    const message = (error as Error).message
    // the daemon's messages name their own fix (conflicts, a stopped VM, a restart); the others get the log
    throw new CommandError(message, /`dlite |Nothing was changed/.test(message) ? undefined : 'see `dlite logs` for the daemon\'s side')
  }
}

function readSettingOrFail(stateDir: string): boolean {
  try {
    return readSetting(stateDir).enabled
  } catch (error) {
    throw new CommandError((error as Error).message)
  }
}

/** The first task of enable and disable: which home, and whether its VM runs. */
function findVmTask(dlite: Dlite, ctx: {found?: VmFound}, whenStopped: string): ListrTask<object> {
  return {
    title: 'Find the VM',
    task: async (_c, task) => {
      ctx.found = await findVm(dlite)
      task.title = ctx.found.vm ? `VM running at ${ctx.found.vm.ip}` : `VM not running: ${whenStopped}`
    },
  }
}

/** Saves state.json; `undo` runs first when that fails, so the setting and the host do not disagree. */
function saveSettingTask(title: string, ctx: {found?: VmFound}, enabled: boolean, undo?: () => Promise<unknown>): ListrTask<object> {
  return {
    title,
    task: async () => {
      const {stateDir, home} = ctx.found!
      try {
        writeSetting(stateDir, {enabled, updatedAt: new Date().toISOString()}, home)
      } catch (error) {
        await undo?.().catch(() => {})
        throw new CommandError(`could not save the setting: ${(error as Error).message}`, `check the permissions of ${stateDir}`)
      }
    },
  }
}

export async function enableRouting(dlite: Dlite, renderer: Renderer): Promise<EnableOutcome> {
  const ctx: {found?: VmFound; answer?: EnableAnswer} = {}
  await listr<typeof ctx>([
    findVmTask(dlite, ctx, 'routes follow at the next `dlite start`'),
    {
      title: 'Route docker networks via the VM and open the guest',
      enabled: () => Boolean(ctx.found?.vm),
      task: async (_c, task) => {
        // all or nothing: a conflicting subnet refuses the change before anything is touched
        ctx.answer = await ask<EnableAnswer>(dlite, ctx.found!.home, {op: 'enable'})
        task.title = `Routed ${ctx.answer.routes.map((r) => r.subnet).join(', ') || 'no networks yet'} via ${ctx.found!.vm!.ip}`
      },
    },
    saveSettingTask('Save the setting (applied on every start)', ctx, true, async () => {
      // the daemon applied already: take it back
      if (ctx.answer) await ask(dlite, ctx.found!.home, {op: 'disable'})
    }),
  ], renderer).run()
  const answer = ctx.answer
  return {
    enabled: true,
    vmRunning: Boolean(ctx.found?.vm),
    applied: answer ? 'now' : 'next start',
    routes: answer?.routes ?? [],
    skipped: answer?.skipped ?? [],
    ...(answer?.guest ? {guestRule: answer.guest} : {}),
  }
}

export async function disableRouting(dlite: Dlite, renderer: Renderer): Promise<DisableOutcome> {
  const ctx: {found?: VmFound; answer?: DisableAnswer} = {}
  await listr<typeof ctx>([
    findVmTask(dlite, ctx, 'no routes to remove'),
    {
      title: 'Remove the routes and the guest rule',
      enabled: () => Boolean(ctx.found?.vm),
      task: async (_c, task) => {
        ctx.answer = await ask<DisableAnswer>(dlite, ctx.found!.home, {op: 'disable'})
        task.title = ctx.answer.removed.length > 0 ? `Removed routes ${ctx.answer.removed.join(', ')} and the guest rule` : 'No routes were there; guest rule removed'
      },
    },
    saveSettingTask('Save the setting', ctx, false),
  ], renderer).run()
  return {
    enabled: false,
    vmRunning: Boolean(ctx.found?.vm),
    removedRoutes: ctx.answer?.removed ?? [],
    guestRuleRemoved: ctx.answer?.guestRuleRemoved ?? false,
  }
}

export async function routingStatus(dlite: Dlite, renderer: Renderer, probe = probeTcp): Promise<StatusOutcome> {
  const ctx: {found?: VmFound; enabled?: boolean; report?: StatusAnswer; probes?: ProbeResult[]} = {}
  await listr<typeof ctx>([
    {
      title: 'Read the setting',
      task: async (_c, task) => {
        ctx.found = await findVm(dlite)
        ctx.enabled = readSettingOrFail(ctx.found.stateDir)
        task.title = `Routing is ${ctx.enabled ? 'enabled' : 'disabled'}`
      },
    },
    {
      title: 'Ask the daemon for routes and networks',
      enabled: () => Boolean(ctx.found?.vm),
      task: async (_c, task) => {
        ctx.report = await ask<StatusAnswer>(dlite, ctx.found!.home, {op: 'status'})
        task.title = `${ctx.report.routes.length} route(s) via ${ctx.found!.vm!.ip}`
      },
    },
    {
      title: 'Check that a container answers at its own address',
      enabled: () => (ctx.report?.probeTargets.length ?? 0) > 0,
      task: async (_c, task) => {
        // only containers on networks routed via the VM: never send probes where the host would route them elsewhere
        ctx.probes = await Promise.all(ctx.report!.probeTargets.map((target) => probe(target)))
        const answered = ctx.probes.filter((p) => p.answered).length
        task.title = `${answered} of ${ctx.probes.length} container(s) answered`
      },
    },
  ], renderer).run()
  const report = ctx.report
  const results = ctx.probes ?? []
  return {
    enabled: ctx.enabled ?? false,
    vmRunning: Boolean(ctx.found?.vm),
    ...(ctx.found?.vm ? {vmIp: ctx.found.vm.ip} : {}),
    watching: report?.watching ?? false,
    routes: report?.routes ?? [],
    networks: report?.networks ?? [],
    skipped: report?.skipped ?? [],
    guestRule: report?.guestRule ?? 'not running',
    liveCheck: {method: 'tcp-connect', reachable: results.length > 0 ? results.some((r) => r.answered) : null, results},
  }
}
