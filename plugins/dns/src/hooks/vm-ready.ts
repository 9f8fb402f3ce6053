// dlite:vm-ready: start serving when dlite-dns is enabled (also after the daemon brought a crashed VM back:
// the registry then lists the containers again).
import type {Config} from '@oclif/core'
import type {VmReadyEvent} from 'dlite-cli/plugin'

import {apply, daemonLog} from '../daemon-side.js'
import {loadDlite} from '../dlite.js'

export default async function hook(options: VmReadyEvent & {config: Config}): Promise<void> {
  await apply(options, await loadDlite(options.config), daemonLog)
}
