import {Flags} from '@oclif/core'
import {existsSync, rmSync} from 'node:fs'
import {join, resolve} from 'node:path'

import {DliteCommand} from '../../base-command.js'
import {invokingUser, underSudo} from '../../host/invoking-user.js'
import {
  buildRefusal, deliverImage, deliverImageAs, makeStagingDir, openStagingToUser, realpathOrUndefined, runBuilder, sudoCommand,
  type BuiltImage,
} from '../../image/os-build.js'
import {checkFlagText, formatValidationErrors} from '../../install/validate.js'
import {osBuildDir} from '../../paths.js'
import {removeOnExit} from '../../util/exit-cleanup.js'

export default class OsBuild extends DliteCommand {
  static override summary = 'Build the guest OS image from Debian packages, where dlite install finds it'
  static override description =
    'Runs the image builder (os/build.js: mmdebstrap and chroot, so Linux and root; about a minute with the build cache, ' +
    'more the first time, and it needs a Debian mirror). The image goes to ~/.local/share/dlite/os (of the user who ran ' +
    'sudo, and owned by that user), which `dlite install` uses when there is no --os and no image beside the CLI.'

  static override examples = ['sudo <%= config.bin %> os build', 'sudo <%= config.bin %> os build --out /srv/dlite-os --json']

  static override flags = {
    out: Flags.string({description: 'directory for the image [default: ~/.local/share/dlite/os, or DLITE_DATA_DIR/os]', helpValue: '<dir>'}),
    force: Flags.boolean({description: 'rebuild from the Debian packages even when the build cache holds this image', default: false}),
  }

  async run(): Promise<BuiltImage> {
    const {flags} = await this.parse(OsBuild)
    if (flags.out !== undefined) {
      const text = checkFlagText('--out', flags.out)
      if (!text.ok) this.usageError(formatValidationErrors([text.error]))
    }
    const outDir = resolve(flags.out ?? osBuildDir())
    const entry = join(this.config.root, 'bin', 'run.js')
    const refusal = buildRefusal({platform: process.platform, uid: process.getuid?.()}, () => {
      // sudo computes the default for the user's home, not XDG_DATA_HOME or DLITE_DATA_DIR: name the directory when they differ
      const sudoDefault = join(invokingUser().home, '.local', 'share', 'dlite', 'os')
      const args = ['os', 'build', ...(outDir === sudoDefault ? [] : ['--out', outDir]), ...(flags.force ? ['--force'] : [])]
      return sudoCommand(args, {execPath: process.execPath, entry, realpath: realpathOrUndefined})
    })
    if (refusal) this.runtimeError(refusal.message, refusal.fix)
    const builder = join(this.config.root, 'os', 'build.js')
    if (!existsSync(builder)) {
      this.runtimeError(`this dlite has no image builder: ${builder} is missing`, 'reinstall the dlite package, or pass an image to `dlite install --os PATH|URL`')
    }

    // under sudo the image is the invoking user's: delivered by a process of theirs
    const owner = underSudo() ? invokingUser() : undefined
    const stage = makeStagingDir()
    const release = removeOnExit(stage)
    let built: BuiltImage
    try {
      try {
        await runBuilder({builder, outDir: stage, force: flags.force, quietStdout: this.jsonEnabled()})
      } catch (error) {
        this.runtimeError(`the image build failed, ${outDir} is unchanged: ${(error as Error).message}`,
          'fix what the builder reported (missing tools name their apt-get install), then run it again')
      }
      try {
        if (owner) {
          openStagingToUser(stage)
          built = await deliverImageAs(stage, outDir, owner)
        } else {
          built = deliverImage(stage, outDir)
        }
      } catch (error) {
        this.runtimeError(`the image was built but not delivered: ${(error as Error).message}`, 'choose a directory you can write with --out DIR')
      }
    } finally {
      rmSync(stage, {recursive: true, force: true})
      release()
    }
    if (!this.jsonEnabled()) {
      const use = built.outDir === resolve(osBuildDir()) ? '`dlite install` uses it when --os is not given' : `install it with: dlite install --os ${built.manifest}`
      this.log(`OS image ${built.version} is in ${built.outDir}; ${use}`)
    }
    return built
  }
}
