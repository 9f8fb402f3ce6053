import {Flags} from '@oclif/core'
import {join} from 'node:path'

import {DliteCommand} from '../../base-command.js'
import {DEFAULT_DNS_DOMAIN} from '../../helper/registration.js'
import {setUpHelper, type HelperSetupResult} from '../../helper/setup.js'
import {invokingUser} from '../../host/invoking-user.js'
import {checkSetupOptions} from '../../helper/setup-options.js'
import {DEFAULT_HOSTNAME, DEFAULT_SUBNET} from '../../install/validate.js'
import {VMNET_DEFAULT_SUBNET} from '../../network/vmnet.js'
import {dliteHome} from '../../paths.js'

export default class NetworkSetup extends DliteCommand {
  static override summary = 'Set up, once and as root, what a bridged VM of yours needs: the root helper for its bridge, tap, NAT and routes'
  static override description = 'Run with sudo. Registers your dlite home (DLITE_HOME, --profile or ~/.dlite of the user who ran sudo) ' +
    'with the root helper and starts it: a system service where systemd or launchd runs, else a process until the next reboot ' +
    '(run this again after one). Then `dlite install --network bridged` and `dlite start` run as you, with no sudo. ' +
    'Run it again with other --subnet/--hostname to change them; `sudo dlite network remove` undoes it.'
  static override examples = ['sudo <%= config.bin %> network setup', 'sudo <%= config.bin %> network setup --subnet 192.168.100.0/24 --hostname dev.docker']
  static override flags = {
    subnet: Flags.string({description: `the VM network, a private IPv4 CIDR [default: ${DEFAULT_SUBNET}; macOS: socket_vmnet's, ${VMNET_DEFAULT_SUBNET}]`}),
    hostname: Flags.string({description: `the VM's name in /etc/hosts [default: ${DEFAULT_HOSTNAME}]`}),
    'dns-domain': Flags.string({description: `the one domain dlite-dns may point the host's resolver at for this VM [default: ${DEFAULT_DNS_DOMAIN}]`}),
  }

  async run(): Promise<HelperSetupResult> {
    const {flags} = await this.parse(NetworkSetup)
    if (process.getuid?.() !== 0) this.runtimeError('`dlite network setup` is the root part of a bridged VM', 'run it with sudo: sudo dlite network setup')
    const owner = invokingUser()
    if (owner.uid === 0) this.usageError('root\'s own VM needs no helper: its daemon runs as root', 'run this with sudo as the user whose VM it is; root installs its own bridged VM with `dlite install --network bridged`')
    const home = dliteHome()
    const checked = await checkSetupOptions(home, {subnet: flags.subnet, hostname: flags.hostname, dnsDomain: flags['dns-domain']}, owner.uid)
    if (!checked.ok) this.usageError(checked.errors.map((e) => `${e.flag}: ${e.message}`).join('\n'), checked.errors.map((e) => e.fix).join('; '))
    let result: HelperSetupResult
    try {
      result = await setUpHelper({home, owner: {uid: owner.uid, gid: owner.gid}, ...checked.value, entry: join(this.config.root, 'bin', 'run.js')})
    } catch (error) {
      this.runtimeError(`the root helper was not set up: ${(error as Error).message}`, 'nothing was registered; fix the above and run it again')
    }
    if (!this.jsonEnabled()) {
      const r = result.registration
      const network = process.platform === 'darwin' ? `vmnet (socket_vmnet) ${r.subnet}` : `${r.bridge} ${r.subnet}`
      this.log(`The root helper serves ${r.home} (uid ${r.owner.uid}) on ${result.socket}: ${network}, ${r.hostname}, resolver for .${r.dnsDomain}.`)
      this.log(result.runsAs === 'process'
        ? 'No service manager here: it runs until the host reboots; run this again after one.'
        : `It runs as a ${result.runsAs} service, started at every boot.`)
      this.log('Now, as yourself: dlite install --network bridged (or, for an installed VM, `dlite config set network=bridged`), then dlite start.')
    }
    return result
  }
}
