// One DNS query in, one response out (dns-packet does the wire format). Names in our zones are answered
// authoritatively: addresses, NOERROR with no answers when the name has none of the asked type (an AAAA
// query for a container with only IPv4), NXDOMAIN when nothing has the name; both with the zone's SOA so
// resolvers cache the negative answer no longer than the TTL (0 by default). Other names are forwarded to an
// upstream when one is configured, else REFUSED. Transport-independent: the servers add UDP or TCP framing.
import dnsPacket, {type Answer, type DecodedPacket, type Packet, type Question} from 'dns-packet'

import {lookupName, reverseLookup, type LookupResult, type Zone} from './name-lookup.js'
import type {ContainerEntry} from './container-names.js'

const RCODE = {NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5} as const
const OPCODE_QUERY = 0
/** Without EDNS a UDP answer may be 512 bytes; with it we accept up to this (the DNS flag day's safe size). */
const EDNS_UDP_SIZE = 1232
const CLASSIC_UDP_SIZE = 512

export type Transport = 'udp' | 'tcp'

/** Forwards a query that is not ours; resolves with the upstream's response, or undefined when none answered. */
export type Forwarder = (query: Buffer, transport: Transport) => Promise<Buffer | undefined>

interface ResponderState {
  zone: Zone
  entries: ContainerEntry[]
}

interface ResponderOptions {
  /** The zone and containers as they are at the moment of each query. */
  state: () => ResponderState
  /** The forwarder for this query; none (no upstream now): names outside our zones are REFUSED. */
  forward?: () => Forwarder | undefined
  /** Counts answers, for status. */
  onAnswer?: (kind: 'answer' | 'nodata' | 'nxdomain' | 'forwarded' | 'refused' | 'error') => void
}

interface Reply {
  rcode: number
  authoritative: boolean
  answers: Answer[]
  authorities: Answer[]
}

function soaRecord(apex: string, ttl: number): Answer {
  return {
    type: 'SOA', name: apex, ttl,
    data: {mname: `dlite.${apex}`, rname: `hostmaster.${apex}`, serial: 1, refresh: 3600, retry: 600, expire: 86_400, minimum: ttl},
  }
}

/** An in-addr.arpa / ip6.arpa name back to the address it stands for. */
export function reverseName(qname: string): string | undefined {
  const name = qname.toLowerCase().replace(/\.$/, '')
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name)
  if (v4) return [v4[4], v4[3], v4[2], v4[1]].map(Number).join('.')
  const v6 = /^((?:[0-9a-f]\.){32})ip6\.arpa$/.exec(name)
  if (v6) {
    const hex = v6[1].split('.').filter(Boolean).reverse().join('')
    const groups = hex.match(/.{4}/g)!.map((g) => g.replace(/^0+(?=.)/, ''))
    return compressIpv6(groups)
  }
  return undefined
}

/** The canonical (RFC 5952) text of an IPv6 address from its eight groups, as docker reports addresses. */
function compressIpv6(groups: string[]): string {
  let bestStart = -1
  let bestLength = 0
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > bestLength && j - i > 1) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  if (bestStart < 0) return groups.join(':')
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`
}

function addressAnswers(question: Question, result: LookupResult): Answer[] {
  const answers: Answer[] = []
  const seen = new Set<string>()
  const wantA = question.type === 'A' || (question.type as string) === 'ANY'
  const wantAaaa = question.type === 'AAAA' || (question.type as string) === 'ANY'
  for (const match of result.matches) {
    const records: Array<['A' | 'AAAA', string]> = [
      ...(wantA ? match.ipv4.map((ip) => ['A', ip] as ['A', string]) : []),
      ...(wantAaaa ? match.ipv6.map((ip) => ['AAAA', ip] as ['AAAA', string]) : []),
    ]
    for (const [type, data] of records) {
      if (seen.has(`${type} ${data}`)) continue
      seen.add(`${type} ${data}`)
      answers.push({type, name: question.name, ttl: match.ttl, class: 'IN', data})
    }
  }
  return answers
}

/** The reply for a name in one of our zones. */
function authoritativeReply(question: Question, result: LookupResult, zone: Zone): Reply {
  const soa = soaRecord(result.apex, zone.defaultTtl)
  if (result.matches.length === 0 && !result.isApex) return {rcode: RCODE.NXDOMAIN, authoritative: true, answers: [], authorities: [soa]}
  const answers = result.isApex && question.type === 'SOA' ? [{...soa, name: question.name}] : addressAnswers(question, result)
  return {rcode: RCODE.NOERROR, authoritative: true, answers, authorities: answers.length === 0 ? [soa] : []}
}

function reversePointerReply(question: Question, state: ResponderState): Reply | undefined {
  if (question.type !== 'PTR') return undefined
  const ip = reverseName(question.name)
  if (!ip) return undefined
  const found = reverseLookup(ip, state.zone, state.entries)
  if (!found) return undefined
  return {
    rcode: RCODE.NOERROR, authoritative: true, authorities: [],
    answers: found.names.map((data) => ({type: 'PTR', name: question.name, ttl: found.ttl, class: 'IN', data})),
  }
}

function headerOnly(buffer: Buffer, rcode: number): Buffer {
  const reply = Buffer.alloc(12)
  buffer.copy(reply, 0, 0, 2) // the query's ID
  const queryFlags = buffer.readUInt16BE(2)
  const opcodeAndRd = queryFlags & 0x7900 // opcode bits and RD
  reply.writeUInt16BE(0x8000 | opcodeAndRd | rcode, 2)
  return reply
}

/** A response cut to its header and question, with TC set: "ask again over TCP" (RFC 1035 4.2.1). */
function truncatedForm(response: Buffer): Buffer {
  try {
    const packet = dnsPacket.decode(response)
    return dnsPacket.encode({...packet, flags: (packet.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: []})
  } catch {
    const header = Buffer.from(response.subarray(0, 12))
    header.writeUInt16BE(header.readUInt16BE(2) | 0x0200, 2)
    header.fill(0, 4) // no records at all: the counts go to zero
    return header
  }
}

function udpLimit(query: DecodedPacket): number {
  const opt = query.additionals?.find((a) => a.type === 'OPT') as {udpPayloadSize?: number} | undefined
  if (!opt) return CLASSIC_UDP_SIZE
  return Math.max(CLASSIC_UDP_SIZE, Math.min(opt.udpPayloadSize ?? CLASSIC_UDP_SIZE, EDNS_UDP_SIZE))
}

export class Responder {
  constructor(private readonly options: ResponderOptions) {}

  /** The response to send, or undefined when the message deserves none (a response, or garbage). */
  async respond(buffer: Buffer, transport: Transport): Promise<Buffer | undefined> {
    if (buffer.length < 12) return undefined
    if (buffer.readUInt16BE(2) & 0x8000) return undefined // a response, not a query: never answer those
    let query: DecodedPacket
    try {
      query = dnsPacket.decode(buffer)
    } catch {
      this.options.onAnswer?.('error')
      return headerOnly(buffer, RCODE.FORMERR)
    }
    const opcode = ((query.flags ?? 0) >> 11) & 0xf
    if (opcode !== OPCODE_QUERY) return headerOnly(buffer, RCODE.NOTIMP)
    if (query.questions?.length !== 1) return headerOnly(buffer, RCODE.FORMERR)
    const question = query.questions[0]
    const state = this.options.state()

    const klass = question.class ?? 'IN'
    const result = klass === 'IN' || klass === 'ANY' ? lookupName(question.name, state.zone, state.entries) : undefined
    let reply: Reply | undefined
    if (result) reply = authoritativeReply(question, result, state.zone)
    else reply = klass === 'IN' ? reversePointerReply(question, state) : undefined

    const forward = this.options.forward?.()
    if (!reply) {
      if (forward) {
        const forwarded = await forward(buffer, transport).catch(() => undefined)
        if (forwarded) {
          this.options.onAnswer?.('forwarded')
          // An upstream may answer bigger than this client can take over UDP (it asked with our EDNS size,
          // or none): the client gets the truncated form and asks again over TCP.
          if (transport === 'udp' && forwarded.length > udpLimit(query)) return truncatedForm(forwarded)
          return forwarded
        }
        reply = {rcode: RCODE.SERVFAIL, authoritative: false, answers: [], authorities: []}
      } else {
        reply = {rcode: RCODE.REFUSED, authoritative: false, answers: [], authorities: []}
      }
    }
    this.options.onAnswer?.(reply.rcode === RCODE.NXDOMAIN ? 'nxdomain' : reply.rcode === RCODE.REFUSED ? 'refused'
      : reply.rcode !== RCODE.NOERROR ? 'error' : reply.answers.length > 0 ? 'answer' : 'nodata')
    return this.encode(query, question, reply, transport, forward !== undefined)
  }

  private encode(query: DecodedPacket, question: Question, reply: Reply, transport: Transport, recursion: boolean): Buffer {
    const flags = (reply.authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0)
      | (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0)
      | (recursion ? dnsPacket.RECURSION_AVAILABLE : 0)
      | reply.rcode
    const hasOpt = query.additionals?.some((a) => a.type === 'OPT') ?? false
    const packet: Packet = {
      type: 'response', id: query.id, flags, questions: [question], answers: reply.answers, authorities: reply.authorities,
      additionals: hasOpt ? [{type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: []}] : [],
    }
    const encoded = dnsPacket.encode(packet)
    if (transport === 'udp' && encoded.length > udpLimit(query)) {
      // Too big for this datagram: say so and let the client ask again over TCP (RFC 1035 4.2.1, RFC 7766).
      return dnsPacket.encode({...packet, flags: flags | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: []})
    }
    return encoded
  }
}
