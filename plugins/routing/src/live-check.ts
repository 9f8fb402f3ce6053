// The live check of `dlite routing status`: a TCP connection from the host to a container's own address.
// An accepted connection and a refused one both prove the path works (the refusal is the container's kernel
// answering); a timeout or "unreachable" means the packets went nowhere. TCP rather than ICMP because it needs
// no privileges and is what a user's traffic actually is.
import {connect, type Socket} from 'node:net'

import type {ProbeTarget} from './docker-networks.js'

export type ProbeOutcome = 'open' | 'refused' | 'timeout' | 'unreachable' | 'error'

export interface ProbeResult extends ProbeTarget {
  answered: boolean
  outcome: ProbeOutcome
  ms: number
  detail?: string
}

export type Connect = (options: {host: string; port: number}) => Socket

export function probeTcp(target: ProbeTarget, timeoutMs = 2000, open: Connect = connect): Promise<ProbeResult> {
  const started = Date.now()
  return new Promise((resolve) => {
    const socket = open({host: target.ip, port: target.port})
    const finish = (outcome: ProbeOutcome, detail?: string) => {
      clearTimeout(timer)
      socket.destroy()
      resolve({...target, answered: outcome === 'open' || outcome === 'refused', outcome, ms: Date.now() - started, ...(detail ? {detail} : {})})
    }
    const timer = setTimeout(() => finish('timeout', `no answer within ${timeoutMs} ms`), timeoutMs)
    socket.once('connect', () => finish('open'))
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') finish('refused')
      else if (error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH') finish('unreachable', error.code)
      else finish('error', error.code ?? error.message)
    })
  })
}
