// The interactive `dlite install`: one question per setting, defaults shown, each answer checked by the same
// validator the flags go through, so a wrong answer is asked again instead of failing at the end.
import {input} from '@inquirer/prompts'

import {
  checkCpus, checkDisk, checkExtraArgs, checkHostname, checkMemory, checkNetwork, checkMounts, checkOsSource, checkSshKey,
  defaultCpus, DEFAULT_DISK_GIB, DEFAULT_HOSTNAME, DEFAULT_MEMORY_GIB, maxMemoryGiB,
  type Checked, type InstallHostFacts, type InstallInput,
} from './validate.js'

const verdict = <T>(check: Checked<T>): true | string =>
  check.ok ? true : `${check.error.message}. ${check.error.fix.charAt(0).toUpperCase()}${check.error.fix.slice(1)}.`

/** Asks for what the flags did not already say; returns the completed input. */
export async function askInstallQuestions(given: InstallInput, facts: InstallHostFacts): Promise<InstallInput> {
  const answers: InstallInput = {...given}
  const ask = async (message: string, fallback: string, validate: (value: string) => true | string) =>
    (await input({message, default: fallback, validate})).trim()

  answers.network ??= await ask('Network: user (no root, ports on localhost) or bridged (own address, needs root)', 'user',
    (v) => verdict(checkNetwork(v, facts)))
  answers.cpus ??= await ask(`CPUs (1-${facts.cpuCores})`, String(defaultCpus(facts)), (v) => verdict(checkCpus(v, facts)))
  answers.memory ??= await ask(`Memory in GiB (1-${maxMemoryGiB(facts)})`, String(DEFAULT_MEMORY_GIB), (v) => verdict(checkMemory(v, facts)))
  answers.disk ??= await ask('Disk in GiB (sparse: only what is used takes space)', String(DEFAULT_DISK_GIB), (v) => verdict(checkDisk(v)))
  answers.hostname ??= await ask('Hostname of the VM', DEFAULT_HOSTNAME, (v) => verdict(checkHostname(v, facts)))
  if (answers.mounts === undefined) {
    const list = (v: string) => v.split(',').map((piece) => piece.trim())
    answers.mounts = list(await ask('Directories to share into the VM, same path inside (comma-separated, PATH:ro read-only, "none")',
      facts.homeDir, (v) => verdict(checkMounts(list(v), facts))))
  }
  if (answers.sshKey === undefined) {
    const fallback = checkSshKey(undefined, facts)
    answers.sshKey = await ask('Your SSH public key to authorize ("none" for only dlite\'s own key)',
      fallback.ok && fallback.value ? fallback.value : 'none', (v) => verdict(checkSshKey(v, facts))) || 'none'
  }
  if (answers.extra === undefined) {
    const extra = await ask('Extra dockerd arguments (empty for none)', '', (v) => verdict(checkExtraArgs(v)))
    // an empty answer means none; an empty --extra on the command line is refused as a likely mistake
    answers.extra = extra === '' ? [] : extra
  }
  if (answers.os === undefined) {
    // the default is what install found (image-source.ts); with none, the answer is required and the hint says how to get one
    const hint = facts.defaultOsSource === undefined ? '; none found: `sudo dlite os build` makes one' : ''
    answers.os = await ask(`OS image manifest (path or URL${hint})`, facts.defaultOsSource ?? '', (v) => verdict(checkOsSource(v, facts)))
  }
  return answers
}
