// ESLint for the core, the bundled plugins, the native addon's loader, os/build.js, tests and benches: the
// recommended JavaScript and TypeScript rules, with the exceptions below (each says why). `npm run lint` runs it
// with tsc's own checks (noUnusedLocals, noUnusedParameters); .ci/run runs `npm run lint` before the tests.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const nodeGlobals = Object.fromEntries([
  'process', 'console', 'Buffer', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate',
  'URL', 'AbortController', 'AbortSignal', 'fetch', 'Response', 'TextDecoder', 'TextEncoder', 'queueMicrotask',
  'structuredClone', 'SharedArrayBuffer', 'Atomics', 'performance',
].map((name) => [name, 'readonly']))

export default tseslint.config(
  {ignores: ['**/dist/**', 'node_modules/**', 'native/build/**', 'os/cache/**', 'os/dist/**', 'src/config/config-validator.generated.ts', 'bench/results/**']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {globals: nodeGlobals},
    rules: {
      // input validation matches control characters on purpose (a newline in a flag, NUL in a path)
      'no-control-regex': 'off',
      // `_name` marks what is unused by design: a parameter an interface requires, a key left out by a rest pattern
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true}],
      // `catch {}` where a failure means "nothing to do" (a file already gone)
      'no-empty': ['error', {allowEmptyCatch: true}],
    },
  },
  {
    // the addon's loader is CommonJS, as node-gyp addons are loaded
    files: ['native/**/*.js'],
    languageOptions: {sourceType: 'commonjs', globals: {...nodeGlobals, require: 'readonly', module: 'writable', exports: 'writable', __dirname: 'readonly'}},
    rules: {'@typescript-eslint/no-require-imports': 'off'},
  },
  {
    // tests poke at parsed JSON (manifests, status documents) field by field
    files: ['test/**/*.ts', 'packages/*/test/**/*.ts', 'plugins/*/test/**/*.ts'],
    rules: {'@typescript-eslint/no-explicit-any': 'off'},
  },
)
