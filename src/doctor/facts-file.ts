// Reads recorded host facts (`dlite doctor --facts FILE`), so another machine's facts, a Mac's on Linux or a user's
// report, are judged by the same checks. A file that is not facts is a usage error (exit 2) naming every problem.
import {readFileSync} from 'node:fs'

import {CommandError, EXIT_USAGE} from 'dlite-kit/errors'

import type {HostFacts} from './checks.js'

const FIX = 'give the facts of dlite doctor --json (its "facts" member, or the whole report), saved to a file'

export class FactsFileError extends CommandError {
  constructor(message: string, fix = FIX) {
    super(message, fix, EXIT_USAGE)
    this.name = 'FactsFileError'
  }
}

/** Reads and validates FILE; throws FactsFileError when it cannot be read, is not JSON, or is not host facts. */
export function readFactsFile(file: string): HostFacts {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    const {code, message} = error as NodeJS.ErrnoException
    throw new FactsFileError(`cannot read the facts file ${file}: ${code === 'ENOENT' ? 'no such file' : message}`, 'check the path given to --facts')
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new FactsFileError(`the facts file ${file} is not JSON: ${(error as Error).message}`)
  }
  return parseFacts(json, file)
}

/** Validates parsed JSON as HostFacts; a whole `doctor --json` report is taken for the facts it holds. */
export function parseFacts(json: unknown, file = 'the facts'): HostFacts {
  const facts = isObject(json) && isObject(json.facts) && Array.isArray(json.checks) ? json.facts : json
  const problems = factsProblems(facts)
  if (problems.length > 0) throw new FactsFileError(`${file} is not dlite host facts:\n${problems.map((p) => `  ${p}`).join('\n')}`)
  return facts as HostFacts
}

type Json = Record<string, unknown>

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Every way `value` differs from HostFacts, each as "field: what it must be". */
export function factsProblems(value: unknown): string[] {
  if (!isObject(value)) return ['the file must hold a JSON object']
  const problems: string[] = []
  const v = new Validator(problems)
  v.oneOf(value, 'platform', ['linux', 'darwin'], true)
  v.oneOf(value, 'network', ['user', 'bridged'], true)
  const qemu = v.object(value, 'qemu', true)
  if (qemu) {
    v.string(qemu, 'qemu.binaryName', true)
    v.string(qemu, 'qemu.path')
    v.string(qemu, 'qemu.versionError')
    const version = v.object(qemu, 'qemu.version')
    if (version) {
      for (const part of ['major', 'minor', 'patch']) v.count(version, `qemu.version.${part}`, true)
      v.string(version, 'qemu.version.text', true)
    }
  }
  const accelerator = v.object(value, 'accelerator', true)
  if (accelerator) {
    v.oneOf(accelerator, 'accelerator.accelerator', ['kvm', 'hvf', 'tcg'], true)
    v.string(accelerator, 'accelerator.reason', true)
    v.string(accelerator, 'accelerator.addonError')
    const hardware = v.object(accelerator, 'accelerator.hardware', false, true)
    if (hardware) {
      v.oneOf(hardware, 'accelerator.hardware.name', ['kvm', 'hvf'], true)
      v.boolean(hardware, 'accelerator.hardware.present', true)
      v.boolean(hardware, 'accelerator.hardware.usable', true)
      v.string(hardware, 'accelerator.hardware.reason', true)
    }
  }
  v.array(value, 'virtiofsds', (item, at) => {
    if (!isObject(item)) {
      problems.push(`${at}: must be an object`)
      return
    }
    v.string(item, `${at}.path`, true)
    v.string(item, `${at}.version`, true)
    v.boolean(item, `${at}.runsAsUser`, true)
  })
  v.boolean(value, 'tunDevice', true)
  v.boolean(value, 'netAdmin', true)
  v.boolean(value, 'root')
  v.string(value, 'home', true)
  for (const field of ['arch', 'nft', 'iptables', 'ip', 'ssh', 'docker', 'homebrewPrefix']) v.string(value, field)
  v.count(value, 'freeBytes')
  const helper = v.object(value, 'rootHelper')
  if (helper) {
    v.boolean(helper, 'rootHelper.registered', true)
    v.boolean(helper, 'rootHelper.answers', true)
    v.string(helper, 'rootHelper.socket', true)
  }
  const vm = v.object(value, 'runningVm')
  if (vm) {
    v.string(vm, 'runningVm.dockerSocket', true)
    v.string(vm, 'runningVm.dockerVersion')
    v.string(vm, 'runningVm.error')
  }
  const vmnet = v.object(value, 'socketVmnet')
  if (vmnet) {
    v.string(vmnet, 'socketVmnet.binary', true)
    v.boolean(vmnet, 'socketVmnet.binaryExists', true)
    v.string(vmnet, 'socketVmnet.socket', true)
    v.boolean(vmnet, 'socketVmnet.socketExists', true)
  }
  return problems
}

/** Checks one field of an object by its dotted name, noting what is wrong; `required` fields must be present. */
class Validator {
  constructor(private readonly problems: string[]) {}

  private field(obj: Json, path: string, required: boolean): {present: boolean; value: unknown} {
    const key = path.slice(path.lastIndexOf('.') + 1)
    const value = obj[key]
    if (value === undefined) {
      if (required) this.problems.push(`${path}: missing`)
      return {present: false, value}
    }
    return {present: true, value}
  }

  string(obj: Json, path: string, required = false): void {
    const {present, value} = this.field(obj, path, required)
    if (present && typeof value !== 'string') this.problems.push(`${path}: must be a string`)
  }

  boolean(obj: Json, path: string, required = false): void {
    const {present, value} = this.field(obj, path, required)
    if (present && typeof value !== 'boolean') this.problems.push(`${path}: must be true or false`)
  }

  /** A whole number >= 0 (a version part, a byte count). */
  count(obj: Json, path: string, required = false): void {
    const {present, value} = this.field(obj, path, required)
    if (present && !(typeof value === 'number' && Number.isInteger(value) && value >= 0)) this.problems.push(`${path}: must be a whole number >= 0`)
  }

  oneOf(obj: Json, path: string, allowed: string[], required = false): void {
    const {present, value} = this.field(obj, path, required)
    if (present && !allowed.includes(value as string)) {
      this.problems.push(`${path}: must be ${allowed.map((a) => `"${a}"`).join(' or ')} (got ${JSON.stringify(value)})`)
    }
  }

  object(obj: Json, path: string, required = false, nullable = false): Json | undefined {
    const {present, value} = this.field(obj, path, required)
    if (!present || (nullable && value === null)) return undefined
    if (isObject(value)) return value
    this.problems.push(`${path}: must be an object${nullable ? ' or null' : ''}`)
    return undefined
  }

  array(obj: Json, path: string, item: (value: unknown, at: string) => void): void {
    const {present, value} = this.field(obj, path, true)
    if (!present) return
    if (!Array.isArray(value)) {
      this.problems.push(`${path}: must be an array`)
      return
    }
    value.forEach((v, i) => item(v, `${path}[${i}]`))
  }
}
