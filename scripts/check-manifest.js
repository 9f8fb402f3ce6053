// Fails when the committed oclif.manifest.json disagrees with the built commands. It regenerates the
// manifest, compares, and puts the committed file back either way. The comparison ignores key order: oclif
// loads the commands concurrently, and the order it writes them in changed between two runs of one tree.
import {execFileSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'

const FILE = 'oclif.manifest.json'

/** JSON with every object's keys sorted, so two manifests that differ only in order compare equal. */
function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical)
  if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical(value[key])]))
  return value
}
const committed = readFileSync(FILE, 'utf8')
try {
  execFileSync('npx', ['oclif', 'manifest'], {stdio: ['ignore', 'ignore', 'inherit']})
  const fresh = readFileSync(FILE, 'utf8')
  if (JSON.stringify(canonical(JSON.parse(fresh))) !== JSON.stringify(canonical(JSON.parse(committed)))) {
    console.error(`${FILE} is out of date: run \`npm run build && npm run manifest\` and commit it.`)
    process.exitCode = 1
  } else {
    console.log(`${FILE} matches the code.`)
  }
} finally {
  writeFileSync(FILE, committed)
}
