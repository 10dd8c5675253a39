import { defineConfig } from 'vitest/config';

// Tests start real worker processes, shared-memory arenas and sockets, so each
// test file runs in its own forked process and files run one at a time per
// core: these machines have 2 cores and the workloads are timing-sensitive.
export default defineConfig({
  test: {
    pool: 'forks',
    // Lets tests trigger collection, to check what happens when the last handle to something goes.
    execArgv: ['--expose-gc'],
    include: ['test/**/*.test.ts'],
    exclude: ['test/packaging/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    globalSetup: ['test/global-setup.ts'],
    // Load the compiled package natively, as users do, rather than through Vite's transform.
    server: { deps: { external: [/\/dist\//] } },
  },
});
