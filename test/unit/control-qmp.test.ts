import {expect} from 'chai'
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {createConnection, createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {converse, DaemonUnreachable, queryStatus} from '../../src/daemon/control-client.js'
import {lineDecoder, MAX_LINE_BYTES, type ControlResponse, type VmStatus} from '../../src/daemon/control-protocol.js'
import {serveControl, type ControlServer} from '../../src/daemon/control-server.js'
import {QmpClient, QmpTransportError} from '../../src/hypervisor/qmp.js'
import {rejection} from '../helpers/rejection.js'

const status: VmStatus = {
  state: 'running', network: 'bridged', pid: 1, ip: '192.168.64.2', hostname: 'local.docker', dockerSocket: '/x.sock',
  dockerEndpoint: 'tcp://192.168.64.2:2376', dockerContext: 'dlite', restarts: 0,
}

describe('control socket', () => {
  let dir: string
  let server: ControlServer | undefined

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-ctl-'))
  })
  afterEach(async () => {
    await server?.close()
    server = undefined
    rmSync(dir, {recursive: true, force: true})
  })

  it('is owner-only and answers status', async () => {
    const path = join(dir, 'control.sock')
    server = await serveControl(path, (request, reply) => {
      if (request.op === 'status') reply({type: 'status', status})
    })
    expect(statSync(path).mode & 0o777).to.equal(0o600)
    expect(await queryStatus(path)).to.deep.equal(status)
  })

  it('streams several messages until the client is done', async () => {
    const path = join(dir, 'control.sock')
    server = await serveControl(path, (_request, reply) => {
      reply({type: 'stage', stage: 'network', status: 'start', at: 1})
      reply({type: 'stage', stage: 'network', status: 'done', at: 2})
      reply({type: 'ready', status})
    })
    const seen: ControlResponse[] = []
    await converse(path, {op: 'watch'}, (m) => {
      seen.push(m)
      return m.type === 'ready'
    })
    expect(seen.map((m) => m.type)).to.deep.equal(['stage', 'stage', 'ready'])
  })

  it('refuses a peer the check rejects', async () => {
    const path = join(dir, 'control.sock')
    server = await serveControl(path, () => {}, {checkPeer: () => ({ok: false, reason: 'uid 1000 is not the owner'})})
    let message = ''
    await converse(path, {op: 'status'}, () => true).catch((error: Error) => (message = error.message))
    expect(message).to.equal('refused: uid 1000 is not the owner')
  })

  /** Writes raw bytes to the socket and collects what comes back until the server closes or `ms` pass. */
  function rawExchange(path: string, chunks: Array<string | Buffer>, ms = 500): Promise<string> {
    return new Promise((resolve) => {
      const socket = createConnection(path)
      let got = ''
      socket.on('data', (d) => (got += d.toString()))
      socket.on('connect', () => {
        for (const chunk of chunks) socket.write(chunk)
      })
      const done = () => {
        socket.destroy()
        resolve(got)
      }
      socket.on('close', done)
      socket.on('error', done)
      setTimeout(done, ms)
    })
  }

  it('a malformed line, a non-object and an unknown op each get an error reply; the server goes on answering on the same connection', async () => {
    const path = join(dir, 'control.sock')
    const handled: string[] = []
    server = await serveControl(path, (request, reply) => {
      handled.push(request.op)
      reply({type: 'status', status})
    })
    const got = await rawExchange(path, ['{"op": "sta\n', 'null\n', '{"op":"reboot-host"}\n', '{"op":"stop","timeoutMs":1e300}\n', '{"op":"status"}\n', '{"op":"pause","x":1}\n', '{"op":"resume"}\n', '{"op":"stop","cold":"yes"}\n'])
    const replies = got.trim().split('\n').map((line) => JSON.parse(line))
    expect(replies.slice(0, 4).map((r) => r.type)).to.deep.equal(['error', 'error', 'error', 'error'])
    expect(replies[0].error).to.match(/^not a JSON message/)
    expect(replies[1].error).to.equal('a request must be a JSON object')
    expect(replies[2].error).to.equal('unknown request "reboot-host"')
    expect(replies[3].error).to.match(/^stop: timeoutMs must be a whole number/)
    expect(replies[4]).to.deep.equal({type: 'status', status})
    // pause and resume reach the daemon as requests of their own
    expect(replies.slice(5, 7).map((r) => r.type)).to.deep.equal(['status', 'status'])
    // a stop's cold is a boolean or nothing
    expect(replies[7].error).to.equal('stop: cold must be true or false')
    expect(handled).to.deep.equal(['status', 'pause', 'resume'])
    expect(await queryStatus(path)).to.deep.equal(status)
  })

  it('a line longer than the cap is refused and that connection closed; others are served', async () => {
    const path = join(dir, 'control.sock')
    server = await serveControl(path, (_request, reply) => reply({type: 'status', status}))
    const got = await rawExchange(path, ['{"op":"status","pad":"', Buffer.alloc(MAX_LINE_BYTES + 10, 'a')], 3000)
    expect(JSON.parse(got.trim())).to.deep.equal({type: 'error', error: `a message longer than ${MAX_LINE_BYTES} bytes`})
    expect(await queryStatus(path)).to.deep.equal(status)
  })

  it('a multibyte character split between two reads arrives whole', () => {
    const seen: unknown[] = []
    const decode = lineDecoder<{name: string}>((m) => seen.push(m), (error) => expect.fail(error.message))
    const bytes = Buffer.from('{"name":"café ☕"}\n')
    const cut = bytes.indexOf(0xe2) + 1 // inside the three bytes of ☕
    decode(bytes.subarray(0, cut))
    decode(bytes.subarray(cut))
    expect(seen).to.deep.equal([{name: 'café ☕'}])
  })

  it('no daemon: status is undefined, other requests say it is not running', async () => {
    const path = join(dir, 'missing.sock')
    expect(await queryStatus(path)).to.equal(undefined)
    let caught: unknown
    await converse(path, {op: 'stop'}, () => true).catch((error) => (caught = error))
    expect(caught).to.be.instanceOf(DaemonUnreachable)
  })
})

describe('QMP client', () => {
  it('negotiates capabilities, runs commands, reports errors and events', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dlite-qmp-'))
    const path = join(dir, 'qmp.sock')
    const fake = createServer((socket) => {
      socket.write('{"QMP": {"version": {}, "capabilities": []}}\r\n')
      socket.on('data', (data) => {
        for (const line of data.toString().split('\n').filter(Boolean)) {
          const {execute} = JSON.parse(line)
          if (execute === 'query-status') {
            socket.write('{"timestamp": {}, "event": "RESUME"}\r\n{"return": {"status": "running", "running": true}}\r\n')
          } else if (execute === 'bogus') {
            socket.write('{"error": {"class": "CommandNotFound", "desc": "The command bogus has not been found"}}\r\n')
          } else {
            socket.write('{"return": {}}\r\n')
          }
        }
      })
    })
    await new Promise<void>((resolve) => fake.listen(path, resolve))
    try {
      const qmp = await QmpClient.connect(path)
      const events: string[] = []
      qmp.onEvent((e) => events.push(e.event))
      expect(await qmp.execute('query-status')).to.deep.equal({status: 'running', running: true})
      let message = ''
      await qmp.execute('bogus').catch((error: Error) => (message = error.message))
      expect(message).to.equal('QMP CommandNotFound: The command bogus has not been found')
      expect(events).to.deep.equal(['RESUME'])
      qmp.close()
    } finally {
      fake.close()
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('fails at once after QEMU went away, and a command QEMU never answers times out, instead of waiting forever', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dlite-qmp-'))
    const path = join(dir, 'qmp.sock')
    const peers: import('node:net').Socket[] = []
    const fake = createServer((socket) => {
      peers.push(socket)
      socket.write('{"QMP": {"version": {}, "capabilities": []}}\r\n')
      // answers qmp_capabilities, then never again
      socket.once('data', () => socket.write('{"return": {}}\r\n'))
    })
    await new Promise<void>((resolve) => fake.listen(path, resolve))
    try {
      const silent = await QmpClient.connect(path)
      const timedOut = await rejection(silent.execute('system_powerdown', undefined, 200))
      expect(timedOut.message).to.match(/no answer within 0\.2 s/)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(silent.closed, 'a connection whose answers are out of order is given up').to.equal(true)
      const gone = await QmpClient.connect(path)
      for (const peer of peers) peer.destroy()
      await new Promise((resolve) => setTimeout(resolve, 50))
      // closed, not "no answer": it failed without waiting for the command's timeout
      const error = await rejection(gone.execute('human-monitor-command', {'command-line': 'hostfwd_remove net0 tcp:127.0.0.1:8080'}))
      expect(error).to.be.instanceOf(QmpTransportError)
      expect(error.message).to.equal('QMP connection closed')
    } finally {
      fake.close()
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('control socket peer check', () => {
  it('lets allowed uids in and refuses others, naming sudo', async () => {
    const {peerCheck} = await import('../../src/daemon/peer-check.js')
    const dir = mkdtempSync(join(tmpdir(), 'dlite-peer-'))
    const path = join(dir, 'control.sock')
    let uid = 1000
    const server = await serveControl(path, (_request, reply) => reply({type: 'status', status}), {checkPeer: peerCheck(() => ({pid: 1, uid, gid: uid}), [1000]), gid: process.getgid!()})
    try {
      expect(statSync(path).mode & 0o777).to.equal(0o660)
      expect(await queryStatus(path)).to.deep.equal(status)
      uid = 1001
      let message = ''
      await queryStatus(path).catch((error: Error) => (message = error.message))
      expect(message).to.equal('refused: uid 1001 may not control this dlite VM (run the command with sudo)')
    } finally {
      await server.close()
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
