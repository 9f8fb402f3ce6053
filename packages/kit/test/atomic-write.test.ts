import {expect} from 'chai'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {writeFileAtomic, writeFileAtomicSync} from '../src/atomic-write.js'

describe('atomic writes', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kit-atomic-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  for (const [name, write] of [
    ['async', writeFileAtomic],
    ['sync', async (...args: Parameters<typeof writeFileAtomicSync>) => writeFileAtomicSync(...args)],
  ] as const) {
    describe(name, () => {
      it('replaces the file whole, with the mode asked for whatever the umask, and leaves nothing beside it', async () => {
        const path = join(dir, 'state.json')
        writeFileSync(path, 'old')
        const umask = process.umask(0o077)
        try {
          await write(path, 'new', 0o644)
        } finally {
          process.umask(umask)
        }
        expect(readFileSync(path, 'utf8')).to.equal('new')
        expect(statSync(path).mode & 0o777).to.equal(0o644)
        expect(readdirSync(dir)).to.deep.equal(['state.json'])
      })

      it('a symlink at the target is replaced, never followed', async () => {
        const outside = join(dir, 'outside')
        writeFileSync(outside, 'precious')
        symlinkSync(outside, join(dir, 'target'))
        await write(join(dir, 'target'), 'mine', 0o600)
        expect(readFileSync(outside, 'utf8')).to.equal('precious')
        expect(readFileSync(join(dir, 'target'), 'utf8')).to.equal('mine')
      })

      it('a failed rename (the target is a directory) leaves no temp file behind', async () => {
        mkdirSync(join(dir, 'taken'))
        let caught: Error | undefined
        await write(join(dir, 'taken'), 'x', 0o644).catch((error: Error) => (caught = error))
        expect(caught).to.be.instanceOf(Error)
        expect(readdirSync(dir)).to.deep.equal(['taken'])
      })
    })
  }
})
