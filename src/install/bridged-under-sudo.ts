// `sudo dlite install --network bridged` for the user who ran sudo: root does the root part (the same as `sudo dlite
// network setup`), then the install itself runs as that user — a child process with their uid, gid and home — so
// root writes nothing in their home and the VM is theirs, as if they had run the two steps themselves. A failed
// install leaves the registration as it was before this run (none, or the earlier one).
import {spawn} from 'node:child_process'

import type {ConfigOwner} from '../config/index.js'
import {readRegistration} from '../helper/registration.js'
import {checkSetupOptions, type SetupInput} from '../helper/setup-options.js'
import {removeHelper, setUpHelper, writeRegistration} from '../helper/setup.js'
import type {ValidationError} from './validate.js'

export class SetupRefused extends Error {
  constructor(readonly errors: ValidationError[]) {
    super(errors.map((e) => `${e.flag}: ${e.message}`).join('\n'))
  }
}

/** The environment the user's install runs with: sudo's markers gone, their own home. */
export function invokingUserEnv(env: NodeJS.ProcessEnv, owner: ConfigOwner, name: string | undefined): NodeJS.ProcessEnv {
  const next: NodeJS.ProcessEnv = {...env, HOME: owner.home}
  for (const key of ['SUDO_UID', 'SUDO_GID', 'SUDO_USER', 'SUDO_COMMAND']) delete next[key]
  if (name) {
    next.USER = name
    next.LOGNAME = name
  }
  return next
}

/** Returns the exit code of the user's install. */
export async function installBridgedForInvokingUser(options: {home: string; owner: ConfigOwner; entry: string; argv: string[]; setup: SetupInput}): Promise<number> {
  const {home, owner, entry} = options
  const checked = await checkSetupOptions(home, options.setup, owner.uid)
  if (!checked.ok) throw new SetupRefused(checked.errors)
  const before = readRegistration(home)
  await setUpHelper({home, owner: {uid: owner.uid, gid: owner.gid}, ...checked.value, entry})
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...options.argv], {
      uid: owner.uid, gid: owner.gid, cwd: owner.home, stdio: 'inherit', env: invokingUserEnv(process.env, owner, process.env.SUDO_USER),
    })
    child.on('error', reject)
    child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 130 : 1)))
  })
  // a failed install leaves the root part as it found it
  if (code !== 0 && !before) await removeHelper(home, entry).catch(() => {})
  if (code !== 0 && before) await writeRegistration(before)
  return code
}
