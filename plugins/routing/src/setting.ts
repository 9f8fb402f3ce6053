// The one persisted setting, `<home>/plugins/dlite-routing/state.json`: whether routing is on. Commands write
// it (as the user, or under sudo); the daemon reads it on every VM start. Written atomically (temp file +
// rename), owned by the home's owner so a later command without sudo can still change it.
import {mkdirSync, readFileSync, statSync} from 'node:fs'
import {dirname, join} from 'node:path'

import {writeFileAtomicSync} from 'dlite-kit/atomic-write'
import {changeOwnershipNoFollow} from 'dlite-kit/no-follow'

export const PLUGIN_NAME = 'dlite-routing'

export interface RoutingSetting {
  enabled: boolean
  /** ISO time of the last change. */
  updatedAt?: string
}

export function settingPath(stateDir: string): string {
  return join(stateDir, 'state.json')
}

/** A missing file means "never enabled"; a damaged one is an error that names the fix. */
export function readSetting(stateDir: string): RoutingSetting {
  const path = settingPath(stateDir)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {enabled: false}
    throw error
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  const setting = parsed as Partial<RoutingSetting> | undefined
  if (typeof setting?.enabled !== 'boolean') {
    throw new Error(`${path} is damaged; run \`dlite routing enable\` or \`dlite routing disable\` to write it again`)
  }
  return {enabled: setting.enabled, ...(typeof setting.updatedAt === 'string' ? {updatedAt: setting.updatedAt} : {})}
}

export function writeSetting(stateDir: string, setting: RoutingSetting, home: string): void {
  const owner = ownerOf(home)
  mkdirSync(stateDir, {recursive: true, mode: 0o755})
  // under sudo: hand the plugin's directories and the file to whoever owns the home, never through a link
  // put in their place (the home is the user's to change)
  if (owner) for (const dir of [dirname(stateDir), stateDir]) changeOwnershipNoFollow(dir, {kind: 'directory', ownedBy: [0, owner.uid], owner})
  // 0644 whatever the umask: the daemon and the user both read it
  writeFileAtomicSync(settingPath(stateDir), `${JSON.stringify(setting, null, 2)}\n`, 0o644, owner)
}

/** The home's owner when we run as root and it is someone else; undefined when there is nothing to hand over. */
function ownerOf(home: string): {uid: number; gid: number} | undefined {
  if (process.getuid?.() !== 0) return undefined
  const {uid, gid} = statSync(home)
  return uid === 0 ? undefined : {uid, gid}
}
