import {expect} from 'chai'
import {createServer, type Server, type ServerResponse} from 'node:http'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {DockerClient, type DockerEvent} from '../../src/docker/client.js'

describe('DockerClient.events', () => {
  let dir: string
  let server: Server
  let socketPath: string

  const serve = async (handler: (res: ServerResponse, url: string) => void) => {
    server = createServer((req, res) => handler(res, req.url ?? ''))
    await new Promise<void>((resolve) => server.listen(socketPath, resolve))
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-docker-'))
    socketPath = join(dir, 'docker.sock')
  })
  afterEach(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    rmSync(dir, {recursive: true, force: true})
  })

  it('hands each event line to the callback, split across chunks, with the filters in the query', async () => {
    let url = ''
    await serve((res, u) => {
      url = u
      res.writeHead(200, {'content-type': 'application/json'})
      res.write('{"Type":"container","Action":"start","Actor":{"ID":"a"}}\n{"Type":"netw')
      setTimeout(() => res.end('ork","Action":"create","Actor":{"ID":"n"}}\n'), 20)
    })
    const seen: DockerEvent[] = []
    const stream = new DockerClient({kind: 'unix', socketPath}).events((e) => seen.push(e), {type: ['container', 'network']})
    await stream.done
    expect(seen.map((e) => `${e.Type}/${e.Action}`)).to.deep.equal(['container/start', 'network/create'])
    expect(decodeURIComponent(url)).to.equal('/events?filters={"type":["container","network"]}')
  })

  it('ends with an error instead of throwing on a line that is not JSON, a refused request or a throwing callback', async () => {
    await serve((res, url) => {
      if (url.includes('bad')) {
        res.writeHead(400, {'content-type': 'application/json'})
        res.end('{"message":"invalid filter"}')
        return
      }
      res.writeHead(200)
      res.write(url.includes('throw') ? '{"Type":"container"}\n' : 'garbage\n')
    })
    const client = new DockerClient({kind: 'unix', socketPath})
    const failure = (filters: Record<string, string[]>, onEvent: () => void = () => {}) =>
      client.events(onEvent, filters).done.then(() => 'resolved', (error: Error) => error.message)
    expect(await failure({x: ['garbage']})).to.match(/JSON/)
    expect(await failure({x: ['bad']})).to.equal('docker API /events answered 400: {"message":"invalid filter"}')
    expect(await failure({x: ['throw']}, () => {
      throw new Error('plugin bug')
    })).to.equal('plugin bug')
  })

  it('resolves when stopped', async () => {
    await serve((res) => {
      res.writeHead(200)
      res.write('\n')
    })
    const stream = new DockerClient({kind: 'unix', socketPath}).events(() => {})
    setTimeout(() => stream.stop(), 50)
    await stream.done
  })
})
