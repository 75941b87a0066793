// `npm test` and `npm run test:all`: every test file, whatever its tier (test/tiers.js).
export default {
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  files: ['test/**/*.test.ts'],
  // automatic distribution (issue 13) is on by default; a test would see pins nobody ordered whenever it asked for
  // play URLs, so tests turn it on where they test it (`distribution: { auto: true }`)
  environmentVariables: { CIDCAST_FROM_SOURCE: '1', CIDCAST_DISTRIBUTION: '{"auto": false}' },
  timeout: '120s',
  concurrency: 2,
  workerThreads: false
}
