// The e2e tests' throw-away users (test/helpers/test-user.ts) never outlive the test process: not when a test fails
// and the process exits, not when it is interrupted, not when it is killed outright.
import {expect} from 'chai'
import {execFileSync, spawn} from 'node:child_process'
import {once} from 'node:events'
import {existsSync} from 'node:fs'
import {join} from 'node:path'

import {REPO} from '../helpers/dlite-cli.js'
import {createTestUser} from '../helpers/test-user.js'

const userExists = (name: string) => {
  try {
    execFileSync('id', ['-u', name], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

/** A child test process that makes a user, prints its name and home, then does `then`. */
async function childWithUser(then: 'throw' | 'wait'): Promise<{child: ReturnType<typeof spawn>; name: string; home: string}> {
  const script = `
    import {createTestUser} from ${JSON.stringify(join(REPO, 'test', 'helpers', 'test-user.ts'))}
    const user = createTestUser()
    console.log(JSON.stringify({name: user.name, home: user.home}))
    ${then === 'throw' ? "setTimeout(() => { throw new Error('a failing test') }, 100)" : 'setInterval(() => {}, 1000)'}`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {cwd: REPO, stdio: ['ignore', 'pipe', 'pipe']})
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  for (let i = 0; i < 300 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 100))
  const made = JSON.parse(out.split('\n')[0]) as {name: string; home: string}
  expect(userExists(made.name), 'the child made its user').to.equal(true)
  return {child, ...made}
}

describe('test users clean up after themselves', function () {
  this.timeout(120_000)
  before(function () {
    if (process.getuid?.() !== 0) this.skip()
  })

  it('a test process that dies of an error removes its user and home on the way out', async () => {
    const {child, name, home} = await childWithUser('throw')
    const [code] = await once(child, 'exit')
    expect(code).to.not.equal(0)
    expect(userExists(name)).to.equal(false)
    expect(existsSync(home)).to.equal(false)
  })

  it('an interrupted test process (SIGINT) removes its user', async () => {
    const {child, name} = await childWithUser('wait')
    child.kill('SIGINT')
    await once(child, 'exit')
    expect(userExists(name)).to.equal(false)
  })

  it('the user of a test process killed outright (SIGKILL) is removed when the next test user is made', async () => {
    const {child, name} = await childWithUser('wait')
    child.kill('SIGKILL')
    await once(child, 'exit')
    expect(userExists(name), 'SIGKILL gives no chance to clean up').to.equal(true)
    const next = createTestUser()
    try {
      expect(userExists(name)).to.equal(false)
      expect(userExists(next.name)).to.equal(true)
    } finally {
      next.remove()
    }
    expect(userExists(next.name)).to.equal(false)
  })
})
