import {expect} from 'chai'
import {mkdtempSync, openSync, readSync, rmSync, statSync, writeSync, closeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {createSparseDisk, DiskExistsError, diskUsage, growSparseDisk} from '../../src/disk/index.js'

const GiB = 1024 ** 3

/** A new sparse disk of `sizeGiB` with `data` written at `offset`. */
async function diskWith(path: string, sizeGiB: number, data: Buffer, offset: number): Promise<void> {
  await createSparseDisk(path, sizeGiB)
  const fd = openSync(path, 'r+')
  writeSync(fd, data, 0, data.length, offset)
  closeSync(fd)
}

describe('sparse data disk', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-disk-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('creates a 20 GiB disk that allocates (almost) nothing, mode 0600, in a new directory', async () => {
    const path = join(dir, 'sub', 'disk.img')
    const usage = await createSparseDisk(path, 20)
    expect(usage.apparentBytes).to.equal(20 * GiB)
    expect(usage.allocatedBytes).to.be.below(1024 * 1024)
    expect(statSync(path).mode & 0o777).to.equal(0o600)
  })

  it('reports allocation growing when data is written', async () => {
    const path = join(dir, 'disk.img')
    await diskWith(path, 8, Buffer.alloc(4 * 1024 * 1024, 1), 3 * GiB)
    const usage = await diskUsage(path)
    expect(usage.apparentBytes).to.equal(8 * GiB)
    expect(usage.allocatedBytes).to.be.within(4 * 1024 * 1024, 6 * 1024 * 1024)
  })

  it('refuses to overwrite an existing disk, keeping its data, unless told to', async () => {
    const path = join(dir, 'disk.img')
    await diskWith(path, 8, Buffer.from('data'), 0)
    let caught: unknown
    await createSparseDisk(path, 20).catch((error: unknown) => (caught = error))
    expect(caught).to.be.instanceOf(DiskExistsError)
    expect(String(caught)).to.match(/refusing to overwrite/)
    expect((await diskUsage(path)).apparentBytes).to.equal(8 * GiB)
    const usage = await createSparseDisk(path, 20, {overwrite: true})
    expect(usage.apparentBytes).to.equal(20 * GiB)
    expect(usage.allocatedBytes).to.be.below(1024 * 1024)
  })

  it('rejects a size that is not a whole positive number of GiB', async () => {
    for (const size of [0, -1, 1.5]) {
      await createSparseDisk(join(dir, `d${size}.img`), size).then(() => expect.fail(`accepted ${size}`), (error: Error) => expect(error.message).to.match(/whole number of GiB/))
    }
  })

  it('grows in place, keeping what was written and allocating nothing for the new space; never shrinks', async () => {
    const path = join(dir, 'grow.img')
    await diskWith(path, 8, Buffer.from('kept'), 4096)
    const before = await diskUsage(path)
    expect(await growSparseDisk(path, 12)).to.equal(true)
    const after = await diskUsage(path)
    expect(after.apparentBytes).to.equal(12 * GiB)
    expect(after.allocatedBytes).to.equal(before.allocatedBytes)
    const kept = Buffer.alloc(4)
    const rfd = openSync(path, 'r')
    readSync(rfd, kept, 0, 4, 4096)
    closeSync(rfd)
    expect(kept.toString()).to.equal('kept')
    expect(await growSparseDisk(path, 8)).to.equal(false)
    expect(await growSparseDisk(path, 12)).to.equal(false)
    expect((await diskUsage(path)).apparentBytes).to.equal(12 * GiB)
  })
})
