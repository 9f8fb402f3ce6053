import {Listr} from 'listr2'

import {DnsCommand} from '../../dns-command.js'
import type {NamesReply} from '../../protocol.js'
import {namesTable} from '../../render.js'

export default class DnsLs extends DnsCommand {
  static override summary = 'List the names dlite-dns serves now, with their addresses'
  static override description = 'Each container is listed as <name>.<image>.<domain> and <image>.<domain> (which answers every container of the image), plus its aliases and the VM\'s hostname.'
  static override examples = ['<%= config.bin %> dns ls', '<%= config.bin %> dns ls --json']

  async run(): Promise<NamesReply> {
    await this.parse(DnsLs)
    const dlite = await this.dlite()
    const context = await this.vm(dlite)
    if (!context.vm) this.runtimeError('dlite is not running', 'start it with `dlite start`')
    const result: {reply?: NamesReply} = {}
    try {
      await new Listr([{
        title: 'Ask the dlite daemon',
        task: async () => {
          result.reply = await this.ask<NamesReply>(dlite, context, {op: 'names'})
        },
      }], {renderer: this.renderer(true), exitOnError: true}).run()
    } catch (error) {
      this.runtimeError((error as Error).message, 'check `dlite dns status`')
    }
    const reply = result.reply!
    if (!this.jsonEnabled()) for (const line of namesTable(reply)) this.log(line)
    return reply
  }
}
