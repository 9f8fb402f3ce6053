import {expect} from 'chai'

import {errorDetail, run, runOrThrow, which} from '../src/exec.js'

describe('exec', () => {
  it('collects output and exit codes without a shell', async () => {
    const ok = await run('node', ['-e', 'process.stdout.write("out"); process.stderr.write("err"); process.exit(3)'])
    expect(ok).to.deep.equal({code: 3, stdout: 'out', stderr: 'err'})
    expect((await run('/nonexistent/binary', [])).code).to.equal(127)
  })

  it('kills a program that overruns its deadline', async () => {
    const slow = await run('sleep', ['5'], {timeoutMs: 100})
    expect(slow.code).to.equal(124)
    expect(slow.stderr).to.contain('timed out')
  })

  it('runOrThrow carries the program message', async () => {
    let caught: Error | undefined
    try {
      await runOrThrow('node', ['-e', 'console.error("boom"); process.exit(1)'])
    } catch (error) {
      caught = error as Error
    }
    expect(caught?.message).to.match(/exit 1\): boom/)
  })

  it('which finds executables and sbin tools, not missing ones', () => {
    expect(which('node')).to.match(/node$/)
    expect(which('definitely-not-a-dlite-binary')).to.equal(undefined)
  })

  it('passes input and a working directory; a failure names its last three lines, with no empty tail', async () => {
    const echoed = await run('node', ['-e', 'process.stdin.pipe(process.stdout); process.stderr.write(process.cwd())'], {input: 'hi', cwd: '/'})
    expect(echoed).to.deep.equal({code: 0, stdout: 'hi', stderr: '/'})
    expect(errorDetail({code: 1, stdout: 'out', stderr: 'a\nb\nc\nd\n'})).to.equal('b c d')
    expect(errorDetail({code: 1, stdout: 'only out\n', stderr: ''})).to.equal('only out')
    const fake = async () => ({code: 2, stdout: '', stderr: ''})
    let caught: Error | undefined
    await runOrThrow('ip', ['route'], {}, fake).catch((error: Error) => (caught = error))
    expect(caught?.message).to.equal('ip route failed (exit 2)')
  })
})
