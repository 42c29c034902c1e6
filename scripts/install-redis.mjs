#!/usr/bin/env node
// Makes sure redis-server is available for the Redis integration tests (redis-server on PATH or REDIS_SERVER_BIN;
// else Debian's redis-server as root). A system-wide server the package may start is left alone: the tests start
// their own on free ports.
import { ensureDebianTool, probe } from './apt-tool.mjs';

const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';

ensureDebianTool({
  tag: 'install-redis',
  bin,
  pkg: 'redis-server',
  how: 'Install it with your package manager (Debian/Ubuntu: `sudo apt-get install -y redis-server`; macOS: `brew install redis`) ' +
    'or set REDIS_SERVER_BIN to a redis-server binary.',
  version: () => {
    const out = probe(bin, ['--version'], 10_000);
    return out === undefined ? undefined : (/v=(\S+)/.exec(out)?.[1] ?? 'unknown version');
  },
});
