// Preloaded into toolgate by bench/memory (`--import`, only with --probe): prints process.memoryUsage(), V8's heap
// spaces (committed MiB) and the garbage collector's cumulative time to stderr every 500 ms as one JSON line, so the
// driver can split RSS into young and old generation, external and array buffers, and price a GC setting in GC time
// per call. Plain JS, so nothing but this file is added to the process being measured.
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

const MIB = 1024 * 1024;
const mib = (n) => Math.round((n / MIB) * 10) / 10;
const gc = { ms: 0, minor: 0, major: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.ms += entry.duration;
    if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
    else if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.minor++;
  }
}).observe({ entryTypes: ['gc'] });

const timer = setInterval(() => {
  const m = process.memoryUsage();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name.replace(/_space$/, ''), mib(s.physical_space_size)]));
  const probe = { rss: mib(m.rss), heapTotal: mib(m.heapTotal), heapUsed: mib(m.heapUsed), external: mib(m.external), arrayBuffers: mib(m.arrayBuffers), spaces, gc: { ms: Math.round(gc.ms), minor: gc.minor, major: gc.major } };
  process.stderr.write(`${JSON.stringify({ memprobe: probe })}\n`);
}, 500);
timer.unref();
