import {Args, Flags} from '@oclif/core'
import {join} from 'node:path'

import {DliteCommand} from '../base-command.js'
import {invokingUser} from '../host/invoking-user.js'
import {configOwnedBy, requireInstalled} from '../lifecycle/installed.js'
import {
  linkSystemSocket, systemSocketState, SystemSocketError, SYSTEM_DOCKER_SOCKET, unlinkSystemSocket, type SystemSocketState,
} from '../lifecycle/system-socket.js'
import {dliteHome} from '../paths.js'

export default class DockerSocket extends DliteCommand {
  static override summary = `Link ${SYSTEM_DOCKER_SOCKET} to this VM's docker socket, for tools that hard-code that path (root)`
  static override description = `\`sudo dlite docker-socket link\` makes ${SYSTEM_DOCKER_SOCKET} a link to your VM's docker socket ` +
    '(and, with systemd, a tmpfiles.d entry that makes it again at boot); `unlink` removes both. The socket it leads to stays yours ' +
    'alone (0600): other users are refused there. A Docker Engine\'s own socket is never replaced, another link only with --force. ' +
    'Without an argument it says where the path leads.'
  static override examples = ['sudo <%= config.bin %> docker-socket link', 'sudo <%= config.bin %> docker-socket unlink', '<%= config.bin %> docker-socket']
  static override args = {
    action: Args.string({description: 'link or unlink', options: ['link', 'unlink']}),
  }
  static override flags = {
    force: Flags.boolean({description: `replace a link at ${SYSTEM_DOCKER_SOCKET} that leads elsewhere`, default: false}),
  }

  async run(): Promise<SystemSocketState & {changed?: boolean; replaced?: string}> {
    const {args, flags} = await this.parse(DockerSocket)
    const home = dliteHome()
    if (args.action !== undefined && process.getuid?.() !== 0) {
      this.runtimeError(`only root can ${args.action} ${SYSTEM_DOCKER_SOCKET}`, `run it with sudo: sudo dlite docker-socket ${args.action}`)
    }
    const owner = invokingUser()
    if (!configOwnedBy(home, owner.uid)) {
      this.runtimeError(`${join(home, 'config.json')} is not a file of user ${owner.uid}`, 'dlite reads only the config its user owns; reinstall with `dlite install --force`')
    }
    const config = await requireInstalled(home, (m, fix) => this.runtimeError(m, fix))
    const target = config.dockerSocket
    try {
      if (args.action === 'link') {
        const result = linkSystemSocket(target, {force: flags.force})
        if (!this.jsonEnabled()) {
          this.log(`${result.state.path} -> ${target}${result.replaced ? ` (it led to ${result.replaced})` : ''}${result.changed ? '' : ' (already)'}` +
            `${result.state.persistent ? '; made again at every boot (systemd-tmpfiles)' : '; gone after a reboot (run this again)'}.`)
        }
        return {...result.state, changed: result.changed, ...(result.replaced ? {replaced: result.replaced} : {})}
      }
      if (args.action === 'unlink') {
        const result = unlinkSystemSocket(target)
        if (!this.jsonEnabled()) this.log(result.changed ? `${result.state.path} no longer leads to ${target}.` : `${result.state.path} was not linked to ${target}; nothing to do.`)
        return {...result.state, changed: result.changed}
      }
    } catch (error) {
      if (error instanceof SystemSocketError) this.runtimeError(error.message, error.fix)
      throw error
    }
    const state = systemSocketState(target)
    if (!this.jsonEnabled()) this.log(describeState(state))
    return state
  }
}

function describeState(state: SystemSocketState): string {
  switch (state.kind) {
    case 'ours':
      return `${state.path} leads to this VM's docker socket ${state.target}${state.persistent ? ' (made again at every boot)' : ''}.`
    case 'absent':
      return `${state.path} does not exist; \`sudo dlite docker-socket link\` makes it lead to ${state.target}.`
    case 'other link':
      return `${state.path} leads to ${state.linkTarget}, not to this VM (${state.target}); \`sudo dlite docker-socket link --force\` changes that.`
    default:
      return `${state.path} is ${state.kind === 'socket' ? 'the socket of another docker engine' : 'not a link'}; dlite leaves it alone.`
  }
}
