// node:http loaded with require: an ESM import of it (named or default) builds its module namespace, which reads
// every export, and Node 24's http exports undici's WebSocket, CloseEvent and MessageEvent as lazy getters, so the
// import alone loads all of undici (~13 MiB RSS) into a process that does not use it (docs/benchmark.md, "Memory").
import { createRequire } from 'node:module';
import type * as Http from 'node:http';

export const http: typeof Http = createRequire(import.meta.url)('node:http');
