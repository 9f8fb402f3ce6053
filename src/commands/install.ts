import {Flags} from '@oclif/core'
import {join} from 'node:path'

import {DliteCommand} from '../base-command.js'
import {isInstalled} from '../config/index.js'
import {describeOrigin, findImageSource, RELEASE_FIELD, type FoundImage} from '../install/image-source.js'
import {runInstall, type InstallOutcome} from '../install/install-home.js'
import {invokingUser, underSudo} from '../host/invoking-user.js'
import {installBridgedForInvokingUser, SetupRefused} from '../install/bridged-under-sudo.js'
import {formatValidationErrors, gatherInstallHostFacts, realFsProbe, validateInstallOptions, type InstallInput} from '../install/validate.js'
import {autostartUnavailable} from '../lifecycle/autostart.js'
import {vmStatus} from '../lifecycle/vm-status.js'
import {defaultHome, dliteHome, osBuildDir} from '../paths.js'

export default class Install extends DliteCommand {
  static override summary = 'Create the VM: config, sparse disk, keys, TLS certificates and the verified OS image'
  static override description =
    'In a terminal, asks for each setting (defaults shown); with --yes, or without a terminal, uses the flags and ' +
    'defaults without asking. Everything is validated before anything is written.'
  static override examples = [
    '<%= config.bin %> install',
    '<%= config.bin %> install --yes -c 2 -m 4 -d 40 --os ./os/dist/manifest.json',
    'sudo <%= config.bin %> install --yes --network bridged --subnet 192.168.100.0/24',
  ]

  static override flags = {
    cpus: Flags.string({char: 'c', description: 'virtual CPUs [default: half the host cores, at least 1]', helpValue: '<n>'}),
    memory: Flags.string({char: 'm', description: 'memory in GiB [default: 2]', helpValue: '<GiB>'}),
    disk: Flags.string({char: 'd', description: 'disk size in GiB, allocated sparsely [default: 20]', helpValue: '<GiB>'}),
    hostname: Flags.string({char: 'n', description: 'hostname of the VM (bridged: added to /etc/hosts) [default: local.docker]'}),
    mount: Flags.string({
      char: 'S', aliases: ['share'], multiple: true, multipleNonGreedy: true, helpValue: '<dir[:ro]>',
      description: 'directory shared into the VM at the same path, :ro read-only; repeatable; "none" shares nothing [default: your home]',
    }),
    'ssh-key': Flags.string({char: 's', description: 'your SSH public key to authorize, or "none" [default: ~/.ssh/id_ed25519.pub or id_rsa.pub]'}),
    extra: Flags.string({char: 'e', description: 'extra dockerd arguments, e.g. "--registry-mirror=https://mirror.example"'}),
    os: Flags.string({
      description: 'OS image manifest: a path, file:// or http(s):// URL [default: the first of <cli>/os/dist/manifest.json (a checkout), ' +
        'the image dlite os build made (~/.local/share/dlite/os/manifest.json), this release\'s image]',
    }),
    subnet: Flags.string({description: 'bridged: private IPv4 subnet for the VM network, /16 to /29 [default: 192.168.64.0/24; macOS: 192.168.105.0/24, socket_vmnet\'s own]'}),
    'docker-socket': Flags.string({description: 'host docker socket dlite creates [default: <DLITE_HOME>/docker.sock; bridged: /var/run/dlite/docker.sock]'}),
    accel: Flags.string({description: 'accelerator: auto, kvm, hvf or tcg [default: auto]', options: ['auto', 'kvm', 'hvf', 'tcg']}),
    network: Flags.string({
      description: 'user: QEMU user-mode networking, no root, published ports on localhost; bridged: the VM gets its own address ' +
        'on a host bridge (macOS: on vmnet, through socket_vmnet) for the routing and DNS plugins, needs root [default: user]',
      options: ['user', 'bridged'],
    }),
    autostart: Flags.boolean({description: 'start the VM at login through your service manager (systemd user unit, LaunchAgent); dlite autostart changes it later', default: false}),
    activate: Flags.boolean({description: 'dlite start makes the dlite docker context current [default: yes]; --no-activate leaves your current context alone', allowNo: true}),
    'file-events': Flags.boolean({description: 'a file saved on the host under a share raises inotify events in the VM, so watching dev servers reload [default: yes]', allowNo: true}),
    'save-state': Flags.boolean({description: 'dlite stop saves the running VM (memory, containers) and the next start resumes it in seconds [default: yes]', allowNo: true}),
    force: Flags.boolean({description: 'replace an existing install (its disk, and the containers on it, are lost)', default: false}),
    yes: Flags.boolean({char: 'y', description: 'do not ask; use flags and defaults', default: false}),
  }

  async run(): Promise<InstallOutcome & {os: FoundImage}> {
    const {flags} = await this.parse(Install)
    const home = dliteHome()
    const owner = invokingUser()
    // a user's bridged VM under sudo: root's part here, the install itself as that user
    if (underSudo() && flags.network?.trim().toLowerCase() === 'bridged') {
      let code: number
      try {
        code = await installBridgedForInvokingUser({
          home, owner, entry: join(this.config.root, 'bin', 'run.js'), argv: ['install', ...this.argv],
          setup: {subnet: flags.subnet, hostname: flags.hostname},
        })
      } catch (error) {
        if (error instanceof SetupRefused) this.usageError(`invalid install options:\n${error.message}`, error.errors.map((e) => e.fix).join('; '))
        this.runtimeError(`the root part of a bridged VM failed: ${(error as Error).message}`, 'nothing was installed; fix the above and run it again')
      }
      // the user's install printed its own report (and JSON); its exit code is the answer
      process.exit(code)
    }
    const image = findImageSource(flags.os, {
      cliRoot: this.config.root, osBuildDir: osBuildDir(), isFile: (path) => realFsProbe.kind(path) === 'file',
      releaseField: (this.config.pjson as Record<string, unknown>)[RELEASE_FIELD],
    })
    for (const warning of image.warnings) this.warn(warning)
    const facts = await gatherInstallHostFacts({homeDir: owner.home, dliteHome: home, defaultOsSource: image.found?.source, osSearched: image.searched})

    if (isInstalled(home) && !flags.force) {
      this.usageError(`dlite is already installed in ${home}`, 'use --force to replace it (its disk is lost), `dlite update` to change the OS image, or --profile NAME for a second VM')
    }
    if (isInstalled(home) && (await vmStatus(home))) this.runtimeError(`the VM in ${home} is running`, 'stop it first with `dlite stop`')

    let answers: InstallInput = {
      cpus: flags.cpus, memory: flags.memory, disk: flags.disk, hostname: flags.hostname, mounts: flags.mount,
      sshKey: flags['ssh-key'], extra: flags.extra, os: flags.os, subnet: flags.subnet,
      dockerSocket: flags['docker-socket'], accel: flags.accel, network: flags.network,
    }
    const interactive = !flags.yes && !this.jsonEnabled() && process.stdin.isTTY === true && process.stdout.isTTY === true
    // the wizard (and its prompt library) is loaded only for a terminal install
    if (interactive) answers = await (await import('../install/wizard.js')).askInstallQuestions(answers, facts)

    const validation = validateInstallOptions(answers, facts)
    if (!validation.ok) this.usageError(`invalid install options:\n${formatValidationErrors(validation.errors)}`)
    const noAutostart = flags.autostart ? autostartUnavailable() : undefined
    if (noAutostart) this.usageError(`--autostart: nothing on this host can start dlite at login: ${noAutostart}`, 'leave --autostart out; `dlite start` starts the VM')
    const options = {
      ...validation.options,
      ...(flags.activate === false ? {activateContext: false} : {}),
      ...(flags.autostart ? {autostart: true} : {}),
      ...(flags['file-events'] === false ? {fileEvents: false} : {}),
      ...(flags['save-state'] === false ? {saveState: false} : {}),
    }

    const renderer = this.renderer()
    try {
      const outcome = await runInstall({
        home, options, owner, entry: join(this.config.root, 'bin', 'run.js'),
        isDefaultHome: home === defaultHome(), force: flags.force,
      }, renderer)
      // where the image came from; a release's pinned manifest digest is recorded here (not yet enforced: see image-source.ts)
      const found = image.found?.source === answers.os?.trim() || answers.os === undefined ? image.found : undefined
      const os: FoundImage = found ? {...found, source: options.osSource} : {source: options.osSource, origin: 'wizard'}
      if (!this.jsonEnabled()) {
        this.log(`\ndlite is installed in ${home} (OS ${outcome.imageVersion}, ${describeOrigin(os.origin)}). Start it with: dlite start`)
      }
      return {...outcome, os}
    } catch (error) {
      this.runtimeError(`install failed, nothing was changed: ${(error as Error).message}`)
    }
  }
}
