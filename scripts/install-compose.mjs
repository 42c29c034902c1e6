#!/usr/bin/env node
// Makes sure a Compose implementation can check docker-compose.yml (test/deploy/compose.test.ts): docker-compose on
// PATH or COMPOSE_BIN; else Debian's docker-compose as root (the Python implementation; `config` needs no daemon).
import { ensureDebianTool, probe } from './apt-tool.mjs';

const bin = process.env.COMPOSE_BIN ?? 'docker-compose';

ensureDebianTool({
  tag: 'install-compose',
  bin,
  pkg: 'docker-compose',
  how: 'Install it (Debian/Ubuntu: `sudo apt-get install -y docker-compose`) or set COMPOSE_BIN to a docker-compose binary.',
  version: () => {
    const out = probe(bin, ['version', '--short']);
    return out === undefined ? undefined : out || 'unknown version';
  },
});
