// The user dlite works for. Under sudo that is the invoking user (SUDO_UID/SUDO_GID), not root: their
// ~/.dlite is the default home (so `sudo dlite start` and a plain `dlite status` see the same VM), their
// home is the default share and SSH key source, their group may use the docker socket, and the docker
// context lands in their own docker config.
import {readFileSync} from 'node:fs'
import {homedir, userInfo} from 'node:os'

import type {ConfigOwner} from '../config/index.js'

export function passwdHome(uid: number, passwd: string): string | undefined {
  for (const line of passwd.split('\n')) {
    const fields = line.split(':')
    if (fields.length >= 7 && Number(fields[2]) === uid) return fields[5]
  }
  return undefined
}

/** Root through sudo for another user (not `sudo` by root itself). */
export function underSudo(env: NodeJS.ProcessEnv = process.env): boolean {
  return process.getuid?.() === 0 && Boolean(env.SUDO_UID) && env.SUDO_UID !== '0'
}

export function invokingUser(env: NodeJS.ProcessEnv = process.env, readPasswd = () => readFileSync('/etc/passwd', 'utf8')): ConfigOwner {
  const sudoUid = Number(env.SUDO_UID)
  const sudoGid = Number(env.SUDO_GID)
  if (process.getuid?.() === 0 && Number.isInteger(sudoUid) && Number.isInteger(sudoGid) && env.SUDO_UID) {
    let home: string | undefined
    try {
      home = passwdHome(sudoUid, readPasswd())
    } catch {
      home = undefined
    }
    return {uid: sudoUid, gid: sudoGid, home: home ?? homedir()}
  }
  const me = userInfo()
  return {uid: me.uid, gid: me.gid, home: me.homedir || homedir()}
}
