// `npm run bench:micro`: vitest bench over bench/micro, JSON report for bench/micro/summarize.ts.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: [],
    benchmark: {
      include: ['bench/micro/**/*.bench.ts'],
      outputJson: 'bench/out/micro-vitest.json',
    },
  },
});
