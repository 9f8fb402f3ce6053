// Prints the package set of a lockfile (name@version per path) so setup can tell whether
// node_modules matches package-lock.json without reinstalling.
import {readFileSync} from 'node:fs'

const lock = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const lines = Object.entries(lock.packages ?? {})
  .filter(([path]) => path !== '')
  .map(([path, meta]) => `${path}@${meta.version ?? meta.resolved ?? ''}`)
  .sort()
console.log(lines.join('\n'))
