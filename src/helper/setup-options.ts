// What `sudo dlite network setup` (and `sudo dlite install --network bridged`, which runs it) is asked for: the VM
// network, its name and the DNS domain, checked as install checks them, every problem at once. What is not given
// stays as an earlier setup registered it (else the defaults). The home's own bridge, if it is up already, is no
// clash for its own subnet.
import {existsSync, lstatSync} from 'node:fs'
import {dirname} from 'node:path'

import {probeSocketVmnet} from '../host/socket-vmnet.js'
import {bridgedUnavailable, checkHostname, checkSubnet, defaultSubnet, routesOutsideVmnet, type InstallHostFacts, type ValidationError} from '../install/validate.js'
import {readHostRoutes, type HostRoute} from '../network/host-routes.js'
import {networkNames} from '../network/names.js'
import {publicNamesAllowed} from '../network/reserved-names.js'
import {DEFAULT_DNS_DOMAIN, readRegistration} from './registration.js'

export interface SetupInput {
  subnet?: string
  hostname?: string
  dnsDomain?: string
}

export type CheckedSetup = {ok: true; value: {subnet: string; hostname: string; dnsDomain: string}} | {ok: false; errors: ValidationError[]}

/** The home, or the nearest directory above it that exists, must be the user's: nobody registers another's home. */
export function homeOwnerProblem(home: string, uid: number): ValidationError | undefined {
  let path = home
  while (!existsSync(path) && dirname(path) !== path) path = dirname(path)
  const owner = lstatSync(path).uid
  if (owner === uid) return undefined
  return {flag: 'DLITE_HOME', message: `${path} belongs to uid ${owner}, not to uid ${uid} who ran sudo`, fix: 'run it with sudo as the user whose home it is, or set DLITE_HOME to a directory of yours'}
}

export async function checkSetupOptions(home: string, input: SetupInput, uid: number, routes?: HostRoute[], platform: NodeJS.Platform = process.platform,
  mac: Pick<InstallHostFacts, 'socketVmnet' | 'homebrewPrefix'> = platform === 'darwin' ? {socketVmnet: probeSocketVmnet()} : {}): Promise<CheckedSetup> {
  // the root part of a bridged VM is Linux's bridge, tap and nft, or macOS's hosts line beside socket_vmnet (which
  // must be installed): elsewhere nothing of it runs, not even a route read
  const unavailable = bridgedUnavailable(platform, mac)
  if (unavailable) return {ok: false, errors: [{flag: 'network setup', ...unavailable}]}
  const bridge = networkNames(home).bridge
  const table = routesOutsideVmnet(platform, (routes ?? (await readHostRoutes())).filter((route) => route.dev !== bridge))
  const names = {publicNamesAllowed: publicNamesAllowed()}
  const earlier = readRegistration(home)
  const subnet = checkSubnet(input.subnet ?? earlier?.subnet, {routes: table}, defaultSubnet(platform))
  const hostname = checkHostname(input.hostname ?? earlier?.hostname, names)
  const domain = checkHostname(input.dnsDomain ?? earlier?.dnsDomain ?? DEFAULT_DNS_DOMAIN, names)
  const ownership = homeOwnerProblem(home, uid)
  const errors = [
    ...(ownership ? [ownership] : []),
    ...(subnet.ok ? [] : [subnet.error]),
    ...(hostname.ok ? [] : [hostname.error]),
    ...(domain.ok ? [] : [{...domain.error, flag: '--dns-domain', fix: domain.error.fix.replace('--hostname', '--dns-domain')}]),
  ]
  if (errors.length > 0 || !subnet.ok || !hostname.ok || !domain.ok) return {ok: false, errors}
  return {ok: true, value: {subnet: subnet.value, hostname: hostname.value, dnsDomain: domain.value}}
}
