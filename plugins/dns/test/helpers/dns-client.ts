// A minimal DNS client for tests (dns-packet over real sockets): one query, one decoded answer.
import {createSocket} from 'node:dgram'
import {Socket} from 'node:net'

import dnsPacket, {type DecodedPacket, type Packet, type RecordType} from 'dns-packet'

export interface QueryOptions {
  transport?: 'udp' | 'tcp'
  /** Adds an OPT record with this UDP payload size. */
  edns?: number
  id?: number
  timeoutMs?: number
}

export type Reply = DecodedPacket & {rcode: string}

export function queryPacket(name: string, type: RecordType | 'ANY', options: QueryOptions = {}): Buffer {
  const packet: Packet = {
    type: 'query', id: options.id ?? Math.floor(Math.random() * 65_535), flags: dnsPacket.RECURSION_DESIRED,
    questions: [{type: type as RecordType, name, class: 'IN'}],
    additionals: options.edns ? [{type: 'OPT', name: '.', udpPayloadSize: options.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: []}] : [],
  }
  return dnsPacket.encode(packet)
}

export function sendUdp(message: Buffer, host: string, port: number, timeoutMs = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4')
    const timer = setTimeout(() => {
      socket.close()
      reject(new Error(`no UDP answer from ${host}:${port} within ${timeoutMs} ms`))
    }, timeoutMs)
    socket.on('message', (reply) => {
      clearTimeout(timer)
      socket.close()
      resolve(reply)
    })
    socket.send(message, port, host)
  })
}

/** Sends length-prefixed messages over one TCP connection (all in one write) and collects `count` answers. */
export function sendTcp(messages: Buffer[], host: string, port: number, options: {count?: number; timeoutMs?: number; chunkSize?: number} = {}): Promise<Buffer[]> {
  const count = options.count ?? messages.length
  return new Promise((resolve, reject) => {
    const socket = new Socket()
    let buffer = Buffer.alloc(0)
    const replies: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`only ${replies.length} of ${count} TCP answers from ${host}:${port}`))
    }, options.timeoutMs ?? 3000)
    socket.on('error', reject)
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      while (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
        replies.push(buffer.subarray(2, 2 + buffer.readUInt16BE(0)))
        buffer = buffer.subarray(2 + buffer.readUInt16BE(0))
      }
      if (replies.length >= count) {
        clearTimeout(timer)
        socket.destroy()
        resolve(replies)
      }
    })
    socket.connect(port, host, async () => {
      const framed = Buffer.concat(messages.map((m) => {
        const prefix = Buffer.alloc(2)
        prefix.writeUInt16BE(m.length)
        return Buffer.concat([prefix, m])
      }))
      if (!options.chunkSize) {
        socket.write(framed)
        return
      }
      // Dribble the bytes in small writes with pauses, so the server sees partial messages.
      for (let i = 0; i < framed.length; i += options.chunkSize) {
        socket.write(framed.subarray(i, i + options.chunkSize))
        await new Promise((r) => setTimeout(r, 2))
      }
    })
  })
}

export async function query(host: string, port: number, name: string, type: RecordType | 'ANY', options: QueryOptions = {}): Promise<Reply> {
  const message = queryPacket(name, type, options)
  const raw = options.transport === 'tcp'
    ? (await sendTcp([message], host, port, {timeoutMs: options.timeoutMs}))[0]
    : await sendUdp(message, host, port, options.timeoutMs)
  return decodeReply(raw)
}

export function decodeReply(raw: Buffer): Reply {
  return dnsPacket.decode(raw) as Reply
}

/** The A/AAAA data of a reply, sorted. */
export function addresses(reply: Reply): string[] {
  return (reply.answers ?? []).filter((a) => a.type === 'A' || a.type === 'AAAA').map((a) => (a as {data: string}).data).sort()
}
