// dlite:guest-config, before each boot: dockerd gets `--dns=<bridge address>` while dlite-dns is enabled with
// container DNS, so containers resolve *.docker (and, forwarded, everything else) through the responder.
import type {Config} from '@oclif/core'
import type {GuestConfig, VmLifecycleEvent} from 'dlite-cli/plugin'

import {guestConfig} from '../daemon-side.js'
import {loadDlite} from '../dlite.js'

export default async function hook(options: VmLifecycleEvent & {config: Config}): Promise<GuestConfig | undefined> {
  return guestConfig(options, await loadDlite(options.config))
}
