import {Listr} from 'listr2'
import {statSync} from 'node:fs'

import {DnsCommand} from '../../dns-command.js'
import {realResolverHost, removeResolverFilesAsUser, type RemoveOutcome} from 'dlite-kit/resolver-file'

import type {ServiceStatus} from '../../protocol.js'
import {writeSettings} from '../../settings.js'

export default class DnsDisable extends DnsCommand {
  static override summary = 'Stop serving *.docker names and remove exactly the resolver configuration dlite-dns wrote'
  static override examples = ['<%= config.bin %> dns disable']

  async run(): Promise<{enabled: false; wasEnabled: boolean; removed: string[]; kept: RemoveOutcome['kept']; notes: string[]}> {
    await this.parse(DnsDisable)
    const dlite = await this.dlite()
    const context = await this.vm(dlite)
    const dir = this.stateDir(dlite, context)
    const settings = this.savedSettings(dir)
    const wasEnabled = settings.enabled
    const outcome: {removal?: RemoveOutcome; status?: ServiceStatus} = {}

    const tasks = new Listr([
      {
        title: 'Save the settings (disabled)',
        skip: () => (wasEnabled ? false : 'already disabled'),
        task: () => {
          try {
            writeSettings(dir, {...settings, enabled: false})
          } catch (error) {
            throw new Error(`could not write the settings in ${dir}: ${(error as Error).message}`)
          }
        },
      },
      {
        title: 'Stop the DNS responder in the dlite daemon',
        skip: () => (context.vm ? false : 'dlite is not running'),
        task: async () => {
          outcome.status = await this.ask<ServiceStatus>(dlite, context, {op: 'apply'})
          outcome.removal = outcome.status.removed
        },
      },
      {
        title: 'Remove the host resolver configuration',
        task: async (_: unknown, task: {title: string}) => {
          // With the VM stopped there is no daemon to do it: do it here (root's own VM), or ask the root helper
          // (a user's VM, whoever runs this: the helper serves its owner and root)
          if (!outcome.removal) {
            outcome.removal = statSync(context.home).uid === 0
              ? await removeResolverFilesAsUser(dir, realResolverHost())
              : await dlite.hostPrivileges(context.home).removeResolver()
          }
          const removed = outcome.removal.removed
          task.title = removed.length > 0 ? `Removed ${removed.join(', ')}` : 'Host resolver: nothing to remove'
        },
      },
    ], {renderer: this.renderer(), exitOnError: true, rendererOptions: {collapseErrors: false}})
    try {
      await tasks.run()
    } catch (error) {
      this.runtimeError(`dlite-dns could not be disabled: ${(error as Error).message}`, 'see the daemon log with `dlite logs`')
    }

    const notes: string[] = []
    for (const kept of outcome.removal?.kept ?? []) notes.push(`Left ${kept.path} in place: ${kept.reason}.`)
    if (outcome.removal?.warning) notes.push(`Warning: ${outcome.removal.warning}`)
    if (outcome.status?.containerDns.active) notes.push('Containers keep the responder as their DNS server until the next start (`dlite stop && dlite start`); it no longer answers.')
    if (!this.jsonEnabled()) for (const note of notes) this.log(note)
    return {enabled: false, wasEnabled, removed: outcome.removal?.removed ?? [], kept: outcome.removal?.kept ?? [], notes}
  }
}
