import {expect} from 'chai'
import {appendFileSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {followFile, tailLines} from '../../src/lifecycle/log-files.js'
import {readAppended} from '../../src/util/file-tail.js'

describe('log files', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-logs-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('tails the last lines, also across the read-chunk boundary, and nothing for a missing file', () => {
    const path = join(dir, 'big.log')
    writeFileSync(path, Array.from({length: 20_000}, (_, i) => `line ${i}`).join('\n') + '\n')
    expect(tailLines(path, 3)).to.deep.equal(['line 19997', 'line 19998', 'line 19999'])
    expect(tailLines(path, 5000)).to.have.length(5000)
    expect(tailLines(join(dir, 'missing.log'), 10)).to.deep.equal([])
  })

  it('a character split across two read chunks comes out whole in the tail', () => {
    const path = join(dir, 'split.log')
    // the 3-byte € straddles the 64 KiB chunk boundary counted from the end of the file
    const line = 'ab€' + 'x'.repeat(65_533)
    writeFileSync(path, line + '\n')
    expect(Buffer.byteLength(line + '\n') - 64 * 1024).to.equal(3)
    expect(tailLines(path, 1)).to.deep.equal([line])
  })

  it('a character still being written is left for the next read, not garbled', () => {
    const path = join(dir, 'growing.log')
    const euro = Buffer.from('€')
    writeFileSync(path, Buffer.concat([Buffer.from('a'), euro.subarray(0, 2)]))
    const first = readAppended(path, 0)
    expect(first).to.deep.equal({text: 'a', offset: 1})
    appendFileSync(path, Buffer.concat([euro.subarray(2), Buffer.from('b😀')]))
    const second = readAppended(path, first.offset)
    expect(second.text).to.equal('€b😀')
    expect(readAppended(path, second.offset)).to.deep.equal({text: '', offset: second.offset})
  })

  it('follows only what is appended after it starts', async () => {
    const path = join(dir, 'follow.log')
    writeFileSync(path, 'old\n')
    const seen: string[] = []
    const abort = new AbortController()
    const following = followFile(path, (text) => seen.push(text), abort.signal, 20)
    await new Promise((resolve) => setTimeout(resolve, 50))
    appendFileSync(path, 'new 1\n')
    await new Promise((resolve) => setTimeout(resolve, 80))
    appendFileSync(path, 'new 2\n')
    await new Promise((resolve) => setTimeout(resolve, 80))
    abort.abort()
    await following
    expect(seen.join('')).to.equal('new 1\nnew 2\n')
  })
})
