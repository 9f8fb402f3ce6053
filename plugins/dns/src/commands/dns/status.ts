import {Listr} from 'listr2'

import {DnsCommand} from '../../dns-command.js'
import type {ServiceStatus} from '../../protocol.js'
import {statusLines} from '../../render.js'
import type {DnsSettings} from '../../settings.js'

export default class DnsStatus extends DnsCommand {
  static override summary = 'Show whether dlite-dns serves, where, how many names, and the host resolver configuration'
  static override examples = ['<%= config.bin %> dns status', '<%= config.bin %> dns status --json']

  async run(): Promise<{enabled: boolean; running: boolean; settings: DnsSettings; daemon?: ServiceStatus; problem?: string}> {
    await this.parse(DnsStatus)
    const dlite = await this.dlite()
    const context = await this.vm(dlite)
    const settings = this.savedSettings(this.stateDir(dlite, context))
    const result: {daemon?: ServiceStatus; problem?: string} = {}
    await new Listr([{
      title: 'Ask the dlite daemon',
      skip: () => (context.vm ? false : 'dlite is not running'),
      task: async () => {
        try {
          result.daemon = await this.ask<ServiceStatus>(dlite, context, {op: 'status'})
        } catch (error) {
          result.problem = (error as Error).message
        }
      },
    }], {renderer: this.renderer(true)}).run()
    if (!this.jsonEnabled()) for (const line of statusLines(settings, context.vm !== undefined, result.daemon, result.problem)) this.log(line)
    return {enabled: settings.enabled, running: context.vm !== undefined, settings, ...result}
  }
}
