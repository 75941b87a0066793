// `npm test` and `npm run test:all`: every test file, whatever its tier (test/tiers.js).
export default {
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  files: ['test/**/*.test.ts'],
  environmentVariables: { CIDCAST_FROM_SOURCE: '1' },
  timeout: '120s',
  concurrency: 2,
  workerThreads: false
}
