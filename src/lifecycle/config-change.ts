// `dlite config get|set`: the settings a user may change after install, read and written by name. A change is
// checked by the same rules as install's flags, all of it before anything is written; the config is then
// written in one atomic step. Settings that QEMU or the guest read at boot take effect at the next start.
import type {DliteConfig} from '../config/index.js'
import {updateConfig} from '../config/store.js'
import {
  checkCpus, checkDisk, checkExtraArgs, checkHostname, checkMemory, checkMounts, checkNetwork, formatMount,
  type Checked, type InstallHostFacts, type ValidationError,
} from '../install/validate.js'

/** The names `config get|set` take, each with the install flag whose rules it follows. */
export const SETTINGS = {
  cpus: '--cpus',
  memory: '--memory',
  disk: '--disk',
  hostname: '--hostname',
  mounts: '--mount',
  extra: '--extra',
  'activate-context': '--no-activate',
  'file-events': '--no-file-events',
  'save-state': '--no-save-state',
  network: '--network',
} as const
export type SettingName = keyof typeof SETTINGS

export function settingValues(config: DliteConfig): Record<SettingName, string> {
  return {
    cpus: String(config.cpus),
    memory: String(config.memoryGiB),
    disk: String(config.diskGiB),
    hostname: config.hostname,
    mounts: config.mounts.map(formatMount).join(','),
    extra: config.extraArgs.join(' '),
    'activate-context': String(config.activateContext ?? true),
    'file-events': String(config.fileEvents ?? true),
    'save-state': String(config.saveState ?? true),
    network: config.network,
  }
}

export interface ConfigChange {
  /** The settings that change, with their old and new values (as `config get` shows them). */
  changed: Array<{name: SettingName; from: string; to: string}>
  next: DliteConfig
}

export type ParsedChange = {ok: true; change: ConfigChange} | {ok: false; errors: ValidationError[]}

/** Parses and checks `KEY=VALUE` pairs against the current config; nothing is written. */
export function planConfigChange(pairs: string[], current: DliteConfig, facts: InstallHostFacts): ParsedChange {
  const errors: ValidationError[] = []
  const next: DliteConfig = structuredClone(current)
  const seen = new Set<string>()
  const refuse = (name: string, message: string, fix: string) => errors.push({flag: name, message, fix})
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    const name = (eq < 0 ? pair : pair.slice(0, eq)).trim()
    if (!(name in SETTINGS)) {
      refuse(name || pair, `${JSON.stringify(name || pair)} is not a setting dlite can change`, `use KEY=VALUE with KEY one of ${Object.keys(SETTINGS).join(', ')}`)
      continue
    }
    if (eq < 0) {
      refuse(name, `${name} has no value`, `write ${name}=VALUE`)
      continue
    }
    if (seen.has(name)) {
      refuse(name, `${name} is given twice`, `give ${name} once`)
      continue
    }
    seen.add(name)
    const value = pair.slice(eq + 1)
    const checked = applySetting(name as SettingName, value, next, current, facts)
    if (checked) errors.push(renamed(checked, name as SettingName))
  }
  if (pairs.length === 0) refuse('KEY=VALUE', 'nothing to change', `give one or more KEY=VALUE, e.g. memory=4 (keys: ${Object.keys(SETTINGS).join(', ')})`)
  // the root helper writes the registered name into /etc/hosts: a user's bridged VM takes it, and cannot take another
  const registration = facts.helperRegistration
  if (errors.length === 0 && next.network === 'bridged' && facts.isRoot === false && registration) {
    if (!seen.has('hostname')) next.hostname = registration.hostname
    if (next.hostname !== registration.hostname) {
      refuse('hostname', `the root helper is registered for hostname ${registration.hostname}, not ${next.hostname}`, `run \`sudo dlite network setup --hostname ${next.hostname}\` first`)
    }
  }
  if (errors.length > 0) return {ok: false, errors}
  const before = settingValues(current)
  const after = settingValues(next)
  const changed = (Object.keys(SETTINGS) as SettingName[]).filter((n) => before[n] !== after[n]).map((n) => ({name: n, from: before[n], to: after[n]}))
  return {ok: true, change: {changed, next}}
}

/** Sets one setting on `next`; returns the error when the value is refused. */
function applySetting(name: SettingName, value: string, next: DliteConfig, current: DliteConfig, facts: InstallHostFacts): ValidationError | undefined {
  const take = <T>(checked: Checked<T>, set: (v: T) => void) => {
    if (!checked.ok) return checked.error
    set(checked.value)
    return undefined
  }
  // An empty value would mean "the install default" to install's checks; here it is a mistake.
  if (value.trim() === '' && name !== 'extra') return {flag: name, message: `${name} is empty`, fix: `give a value: ${name}=<value>`}
  switch (name) {
    case 'cpus':
      return take(checkCpus(value, facts), (v) => (next.cpus = v))
    case 'memory':
      return take(checkMemory(value, facts), (v) => (next.memoryGiB = v))
    case 'disk': {
      const checked = checkDisk(value)
      if (!checked.ok) return checked.error
      // The guest's file system fills the disk: growing it is safe, shrinking would cut the data off.
      if (checked.value < current.diskGiB) {
        return {flag: name, message: `the disk cannot shrink below its ${current.diskGiB} GiB: the guest's file system fills it`, fix: `give disk=${current.diskGiB} or more`}
      }
      next.diskGiB = checked.value
      return undefined
    }
    case 'hostname':
      return take(checkHostname(value, facts), (v) => (next.hostname = v))
    case 'network': {
      // the disk and the certificates (made for the VM's install-time address and 127.0.0.1 both) stay as they
      // are: a user's bridged VM must be registered for that same address
      const checked = checkNetwork(value, facts)
      if (!checked.ok) return checked.error
      const registration = facts.helperRegistration
      if (checked.value === 'bridged' && facts.isRoot === false && registration && registration.subnet !== current.subnet) {
        return {flag: name, message: `the root helper is registered for subnet ${registration.subnet}, but this VM's certificates name its address in ${current.subnet}`, fix: `run \`sudo dlite network setup --subnet ${current.subnet}\` first`}
      }
      next.network = checked.value
      return undefined
    }
    case 'mounts':
      // one value for the whole list (`mounts=~/src,/data:ro`, `mounts=none`): a path with a comma needs `dlite edit`
      return take(checkMounts(value.split(','), facts), (v) => (next.mounts = v))
    case 'extra':
      return take(checkExtraArgs(value), (v) => (next.extraArgs = v))
    case 'activate-context':
      return take(checkBoolean(name, value), (v) => (next.activateContext = v))
    case 'file-events':
      return take(checkBoolean(name, value), (v) => (next.fileEvents = v))
    case 'save-state':
      return take(checkBoolean(name, value), (v) => (next.saveState = v))
  }
}

function checkBoolean(name: SettingName, value: string): Checked<boolean> {
  if (value === 'true' || value === 'false') return {ok: true, value: value === 'true'}
  return {ok: false, error: {flag: name, message: `${JSON.stringify(value)} is not true or false`, fix: `write ${name}=true or ${name}=false`}}
}

/** Install's errors name its flags; here they name the setting. */
function renamed(error: ValidationError, name: SettingName): ValidationError {
  const flag = SETTINGS[name]
  const swap = (text: string) => text.split(`${flag} `).join(`${name}=`).split(flag).join(name)
  return {flag: name, message: swap(error.message), fix: swap(error.fix)}
}

/** Settings QEMU or the guest read at boot: a running VM has them from its start. */
export function needsRestart(change: ConfigChange): boolean {
  return change.changed.some((c) => c.name !== 'activate-context')
}

/** What changed, one line per setting, as set and edit print it. */
export function describeChange(change: ConfigChange): string {
  if (change.changed.length === 0) return 'Nothing changed.'
  return change.changed.map((c) => `${c.name}: ${c.from || '(none)'} -> ${c.to || '(none)'}`).join('\n')
}

export function writeConfigChange(home: string, change: ConfigChange): DliteConfig {
  return updateConfig(home, change.next)
}
