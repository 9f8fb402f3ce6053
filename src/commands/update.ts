import {Flags} from '@oclif/core'
import {join} from 'node:path'

import {DliteCommand, MAX_TIMEOUT_SECONDS} from '../base-command.js'
import {invokingUser} from '../host/invoking-user.js'
import {fetchImageManifest} from '../image/index.js'
import {checkOsFlag, formatValidationErrors, realFsProbe} from '../install/validate.js'
import {requireInstalled} from '../lifecycle/installed.js'
import {isRunning, rollBack, updateImage, UpdateRolledBack, type UpdateOutcome} from '../lifecycle/update.js'
import {dliteHome} from '../paths.js'

export default class Update extends DliteCommand {
  static override summary = 'Install a new OS image (verified), restart the VM on it, and roll back if it fails'
  static override description =
    'Reads the manifest (--os, or where the current image came from). The download is verified against its sha256 ' +
    'before anything changes; the previous image is kept. A running VM is restarted on the new image; if docker ' +
    'does not become ready in time, the previous image is restored and booted, and the command exits 1. ' +
    'The data disk (images, containers, volumes) is never touched.'
  static override examples = [
    '<%= config.bin %> update',
    '<%= config.bin %> update --os https://example.com/dlite-os/manifest.json --yes',
    '<%= config.bin %> update --rollback',
  ]
  static override flags = {
    os: Flags.string({description: 'OS image manifest: a path, file:// or http(s):// URL [default: where the current image came from]'}),
    rollback: Flags.boolean({description: 'switch back to the previous image', default: false, exclusive: ['os']}),
    yes: Flags.boolean({char: 'y', description: 'restart a running VM without asking', default: false}),
    timeout: Flags.integer({description: 'seconds the new image has to become ready before the rollback', default: 300, min: 10, max: MAX_TIMEOUT_SECONDS}),
  }

  async run(): Promise<UpdateOutcome> {
    const {flags} = await this.parse(Update)
    const given = flags.os === undefined ? undefined : checkOsFlag(flags.os, {cwd: process.cwd(), homeDir: invokingUser().home, fs: realFsProbe})
    if (given && !given.ok) this.usageError(formatValidationErrors([given.error]))
    const home = dliteHome()
    const config = await requireInstalled(home, (m, fix) => this.runtimeError(m, fix))
    const common = {home, entry: join(this.config.root, 'bin', 'run.js'), timeoutMs: flags.timeout * 1000}
    const running = await isRunning(home)

    if (flags.rollback) {
      if (!config.image.previous) this.runtimeError('there is no previous OS image to roll back to', 'nothing to do; `dlite status` shows the image')
      if (running) await this.confirmRestart(flags.yes, `Restart the running VM on OS ${config.image.previous}?`)
      const outcome = await rollBack({...common, restart: running}).catch((error: Error) => this.runtimeError(error.message, 'see `dlite logs`'))
      if (!this.jsonEnabled()) this.log(`Rolled back to OS ${outcome.to}${outcome.restarted ? '; the VM runs on it' : ''}.`)
      return outcome
    }

    const source = given?.ok ? given.value : config.osSource
    const fetched = await fetchImageManifest(source).catch((error: Error) =>
      this.runtimeError(`cannot read the OS manifest ${source}: ${error.message}`, 'check --os; nothing was changed'))
    const version = fetched.manifest.version
    if (version === config.image.current) {
      if (!this.jsonEnabled()) this.log(`OS ${version} is already installed.`)
      return {action: 'already-installed', from: version, to: version, restarted: false, removedImages: []}
    }
    if (flags.os && !this.jsonEnabled()) this.log(`Installing OS ${version} over ${config.image.current}, as given by --os.`)
    if (running) await this.confirmRestart(flags.yes, `Restart the running VM on OS ${version}? (containers stop; images and volumes stay)`)

    const renderer = this.renderer()
    try {
      const outcome = await updateImage({...common, source, restart: running, renderer})
      if (!this.jsonEnabled()) this.log(`\nUpdated to OS ${outcome.to}${outcome.restarted ? '; the VM runs on it' : ''} (rollback: dlite update --rollback).`)
      return outcome
    } catch (error) {
      if (error instanceof UpdateRolledBack) this.runtimeError(error.message)
      this.runtimeError(`update failed: ${(error as Error).message}`, 'nothing was changed unless said above; see `dlite status`')
    }
  }

  private async confirmRestart(yes: boolean, message: string): Promise<void> {
    if (yes) return
    if (!process.stdin.isTTY || this.jsonEnabled()) this.usageError('the VM is running and would be restarted', 'add --yes to allow the restart')
    // loaded only when a question is asked: --yes and --json never pay for the prompt library
    const {confirm} = await import('@inquirer/prompts')
    if (!(await confirm({message, default: true}))) this.runtimeError('update cancelled; nothing was changed')
  }
}
