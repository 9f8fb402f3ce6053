// Reading and changing host routes through the VM on Linux (iproute2) and macOS (route, netstat, ifconfig),
// behind one interface. Changing them is root's: the root helper and a root daemon call these after their checks
// (helper/actions.ts); reading needs nothing. Every program runs through an injectable Runner.
import {run, runOrThrow, type Runner} from 'dlite-kit/exec'
import {parseIpRouteJson, parseNetstatRoutes, type HostRoute} from 'dlite-kit/routes'

// A routing tool that hangs (a wedged netlink, a slow netstat) must not hold a request for ever.
const HOST_TOOL_TIMEOUT_MS = 15_000

function withDeadline(runner: Runner): Runner {
  return (cmd, args, opts) => runner(cmd, args, {timeoutMs: HOST_TOOL_TIMEOUT_MS, ...opts})
}

/** What the commands need to know about the VM: its address and the host interface it is reached through. */
export interface VmLink {
  ip: string
  hostIp: string
  /** The host bridge (Linux). On macOS the vmnet bridge is found by its address, hostIp. */
  bridge: string
}

export interface RouteCommands {
  readonly platform: 'linux' | 'darwin'
  readRoutes(): Promise<HostRoute[]>
  /** Adds (or replaces) the route, with whatever else the host needs to pass routed traffic to the VM. */
  addRoute(subnet: string, vm: VmLink): Promise<void>
  removeRoute(subnet: string, vm: VmLink): Promise<void>
}

export function linuxRouteCommands(runner: Runner = run): RouteCommands {
  const tool = withDeadline(runner)
  return {
    platform: 'linux',
    async readRoutes() {
      return parseIpRouteJson(await runOrThrow('ip', ['-j', '-4', 'route', 'show', 'table', 'main'], {}, tool))
    },
    async addRoute(subnet, vm) {
      // replace, not add: idempotent when the same route is already there (conflicts were ruled out before);
      // the Linux bridge forwards to the VM's tap as it is
      await runOrThrow('ip', ['route', 'replace', subnet, 'via', vm.ip, 'dev', vm.bridge], {}, tool)
    },
    async removeRoute(subnet, vm) {
      const result = await tool('ip', ['route', 'del', subnet, 'via', vm.ip, 'dev', vm.bridge])
      // "No such process": already gone, which is what we wanted; the device may be gone too
      if (result.code !== 0 && !/No such process|Cannot find device/.test(result.stderr)) {
        throw new Error(`ip route del ${subnet} failed (exit ${result.code}): ${result.stderr.trim()}`)
      }
    },
  }
}

export function darwinRouteCommands(runner: Runner = run): RouteCommands {
  const tool = withDeadline(runner)
  return {
    platform: 'darwin',
    async readRoutes() {
      return parseNetstatRoutes(await runOrThrow('netstat', ['-rn', '-f', 'inet'], {}, tool))
    },
    async addRoute(subnet, vm) {
      await openVmnetHostFilter(vm, tool)
      await runOrThrow('route', ['-n', 'add', subnet, vm.ip], {}, tool)
    },
    async removeRoute(subnet, vm) {
      const result = await tool('route', ['-n', 'delete', subnet, vm.ip])
      if (result.code !== 0 && !/not in table/.test(result.stderr + result.stdout)) {
        throw new Error(`route -n delete ${subnet} failed (exit ${result.code}): ${(result.stderr || result.stdout).trim()}`)
      }
    },
  }
}

/**
 * vmnet's bridge drops frames for addresses it did not hand out itself ("host filter"), which includes every
 * container IP; DLite's README turned it off by hand for the bridge member. Returns what it ran.
 */
export async function openVmnetHostFilter(vm: VmLink, runner: Runner): Promise<string[]> {
  const bridge = findInterfaceWithAddress(await runOrThrow('ifconfig', [], {}, runner), vm.hostIp) ?? vm.bridge
  const members = filteredBridgeMembers(await runOrThrow('ifconfig', [bridge], {}, runner))
  for (const member of members) await runOrThrow('ifconfig', [bridge, '-hostfilter', member], {}, runner)
  return members.map((member) => `ifconfig ${bridge} -hostfilter ${member}`)
}

export function routeCommandsFor(platform: NodeJS.Platform, runner: Runner = run): RouteCommands {
  if (platform === 'linux') return linuxRouteCommands(runner)
  if (platform === 'darwin') return darwinRouteCommands(runner)
  throw new Error(`host routes to the VM are supported on Linux and macOS hosts, not ${platform}`)
}

/** The interface (from `ifconfig` without arguments) that holds `address`, e.g. bridge100 for 192.168.64.1. */
export function findInterfaceWithAddress(ifconfig: string, address: string): string | undefined {
  let current: string | undefined
  for (const line of ifconfig.split('\n')) {
    const header = /^([^\s:]+): flags=/.exec(line)
    if (header) current = header[1]
    else if (current && new RegExp(`^\\s+inet ${address.replaceAll('.', '\\.')}\\s`).test(line)) return current
  }
  return undefined
}

/**
 * The members of a bridge (from `ifconfig <bridge>`) whose host filter is on, or whose filter state is not
 * shown (older macOS): those are the ones to open.
 */
export function filteredBridgeMembers(ifconfig: string): string[] {
  const members: Array<{name: string; hostfilter?: boolean}> = []
  for (const line of ifconfig.split('\n')) {
    const member = /^\s+member: (\S+)/.exec(line)
    if (member) {
      members.push({name: member[1]})
      continue
    }
    const filter = /^\s+hostfilter (\d+)/.exec(line)
    const last = members.at(-1)
    if (filter && last) last.hostfilter = filter[1] !== '0'
  }
  return members.filter((m) => m.hostfilter !== false).map((m) => m.name)
}
