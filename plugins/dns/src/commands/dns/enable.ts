import {Flags} from '@oclif/core'
import {Listr} from 'listr2'

import {DnsCommand} from '../../dns-command.js'
import type {ServiceStatus} from '../../protocol.js'
import {describeContainerDns, describeResolver} from '../../render.js'
import {
  MAX_TTL, RESOLVER_MODES, checkServedDomain, normalizeUpstreams, validateSettings, writeSettings, type DnsSettings,
} from '../../settings.js'

export default class DnsEnable extends DnsCommand {
  static override summary = 'Serve *.docker names for containers and point the host resolver at them'
  static override description = `Starts a DNS responder in the dlite daemon on the VM bridge's host address (port 53) that answers
<anything>.<container>.<image>.<domain> names with dnsdock's rules, and configures the host resolver for the
domain (macOS /etc/resolver, systemd-resolved on Linux; elsewhere it prints the manual step). Settings are
kept; flags left out keep their earlier values. If dlite is not running, it all happens at \`dlite start\`.`
  static override examples = [
    '<%= config.bin %> dns enable',
    '<%= config.bin %> dns enable --domain dev.docker --ttl 5',
    '<%= config.bin %> dns enable --upstream 1.1.1.1 --upstream 9.9.9.9:53',
    '<%= config.bin %> dns enable --upstream none --no-container-dns',
  ]
  static override flags = {
    domain: Flags.string({description: 'the domain to serve (default: docker)'}),
    ttl: Flags.integer({description: 'TTL of answers in seconds, unless a container sets com.dnsdock.ttl (default: 0)', min: 0, max: MAX_TTL}),
    upstream: Flags.string({
      description: 'where names outside the domain go: system (the host\'s resolvers, default), none (REFUSED), or ip[:port]; repeatable',
      multiple: true,
    }),
    'container-dns': Flags.boolean({description: 'give dockerd --dns=<responder> so containers use it too (from the next start; default: on)', allowNo: true}),
    loopback: Flags.boolean({description: 'also listen on 127.0.0.1:1053, as DLite 2 did (default: off)', allowNo: true}),
    resolver: Flags.string({description: 'how the host resolver learns the domain (default: auto)', options: [...RESOLVER_MODES]}),
  }

  async run(): Promise<{enabled: true; running: boolean; settings: DnsSettings; status?: ServiceStatus; notes: string[]}> {
    const {flags} = await this.parse(DnsEnable)
    // Flags first: a bad flag is a usage error (exit 2) whatever state dlite is in, and nothing is written.
    const dlite = await this.dlite()
    let chosen: Partial<DnsSettings>
    try {
      chosen = {
        ...(flags.domain === undefined ? {} : {domain: checkServedDomain(flags.domain, dlite)}),
        ...(flags.ttl === undefined ? {} : {ttl: flags.ttl}),
        ...(flags.upstream === undefined ? {} : {upstream: normalizeUpstreams(flags.upstream)}),
        ...(flags['container-dns'] === undefined ? {} : {containerDns: flags['container-dns']}),
        ...(flags.loopback === undefined ? {} : {loopback: flags.loopback}),
        ...(flags.resolver === undefined ? {} : {resolver: flags.resolver as DnsSettings['resolver']}),
      }
    } catch (error) {
      this.settingsError(error, true)
    }
    const context = await this.vm(dlite)
    const dir = this.stateDir(dlite, context)
    const settings = this.savedSettings(dir, (saved) => validateSettings({...saved, ...chosen, enabled: true}))

    const state: {status?: ServiceStatus} = {}
    const tasks = new Listr([
      {
        title: 'Save the settings',
        task: (_: unknown, task: {title: string}) => {
          try {
            writeSettings(dir, settings)
          } catch (error) {
            throw new Error(`could not write the settings in ${dir}: ${(error as Error).message}`)
          }
          task.title = `Save the settings: *.${settings.domain}, TTL ${settings.ttl}`
        },
      },
      {
        title: 'Start the DNS responder in the dlite daemon',
        skip: () => (context.vm ? false : 'dlite is not running: the responder starts with `dlite start`'),
        task: async (_: unknown, task: {title: string}) => {
          state.status = await this.ask<ServiceStatus>(dlite, context, {op: 'apply'})
          task.title = `Serve *.${settings.domain} on ${state.status.listening.join(', ')} (UDP and TCP)`
        },
      },
      {
        title: 'Configure the host resolver',
        skip: () => (state.status ? false : 'at `dlite start`'),
        task: (_: unknown, task: {title: string}) => {
          task.title = `Host resolver: ${describeResolver(state.status?.resolver)}`
        },
      },
    ], {renderer: this.renderer(), exitOnError: true, rendererOptions: {collapseErrors: false}})
    try {
      await tasks.run()
    } catch (error) {
      this.runtimeError(`dlite-dns could not be enabled: ${(error as Error).message}`, 'see the daemon log with `dlite logs`, or `dlite dns status`')
    }

    const notes: string[] = []
    if (!context.vm) notes.push('dlite is not running: dlite-dns starts serving, and configures the host resolver, at `dlite start`.')
    const resolver = state.status?.resolver
    if (resolver?.mode === 'manual') notes.push(resolver.message)
    if (resolver?.warning) notes.push(`Warning: ${resolver.warning}`)
    if (state.status) {
      const containerDns = describeContainerDns(state.status.containerDns)
      if (state.status.containerDns.wanted !== state.status.containerDns.active) notes.push(`Containers: ${containerDns}.`)
    }
    if (!this.jsonEnabled()) for (const note of notes) this.log(note)
    return {enabled: true, running: context.vm !== undefined, settings, status: state.status, notes}
  }
}
