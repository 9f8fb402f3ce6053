// Fails when the committed oclif.manifest.json disagrees with the built commands. It regenerates the
// manifest, compares, and puts the committed file back either way.
import {execFileSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'

const FILE = 'oclif.manifest.json'
const committed = readFileSync(FILE, 'utf8')
try {
  execFileSync('npx', ['oclif', 'manifest'], {stdio: ['ignore', 'ignore', 'inherit']})
  const fresh = readFileSync(FILE, 'utf8')
  if (JSON.stringify(JSON.parse(fresh)) !== JSON.stringify(JSON.parse(committed))) {
    console.error(`${FILE} is out of date: run \`npm run build && npm run manifest\` and commit it.`)
    process.exitCode = 1
  } else {
    console.log(`${FILE} matches the code.`)
  }
} finally {
  writeFileSync(FILE, committed)
}
