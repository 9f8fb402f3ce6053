// Every dlite instance of this user, for `dlite list`: the default home, each profile in ~/.dlite-profiles, and
// the home DLITE_HOME names when it is elsewhere. Each is described by the same report `status` gives.
import {readdirSync} from 'node:fs'
import {join} from 'node:path'

import {isInstalled} from '../config/index.js'
import {defaultHome, PROFILE_NAME_PATTERN, profileOf, profilesDir} from '../paths.js'
import {statusReport, type StatusReport} from './status-report.js'

export interface Instance {
  /** The profile name (`default` for ~/.dlite), or absent for a home outside both. */
  profile?: string
  report: StatusReport
}

export function instanceHomes(current: string): string[] {
  let profiles: string[] = []
  try {
    profiles = readdirSync(profilesDir()).filter((name) => PROFILE_NAME_PATTERN.test(name)).sort().map((name) => join(profilesDir(), name))
  } catch {
    // no profiles yet
  }
  const homes = [defaultHome(), ...profiles, current]
  return homes.filter((home, i) => homes.indexOf(home) === i && isInstalled(home))
}

export async function listInstances(current: string): Promise<Instance[]> {
  return Promise.all(instanceHomes(current).map(async (home) => ({profile: profileOf(home), report: await statusReport(home)})))
}
