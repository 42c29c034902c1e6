// Real Redis Cluster and Sentinel set-ups for tests, on free 127.0.0.1 ports, nothing persisted.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePorts } from './ports.js';
import type { ManagedProcess } from './process.js';
import { baseArgs, launchRedisServer } from './redis.js';

export interface TestRedisGroup {
  /** `host:port` entries as the config's `nodes` or `sentinels` take them. */
  readonly addresses: readonly string[];
  dispose(): Promise<void>;
}

function group(dir: string, procs: ManagedProcess[], addresses: string[]): TestRedisGroup {
  return {
    addresses,
    async dispose() {
      await Promise.all(procs.map((p) => p.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `masters` cluster nodes without replicas, joined with `redis-cli --cluster create`; resolves once the cluster is ok. */
export async function startRedisCluster(masters = 3): Promise<TestRedisGroup> {
  const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-redis-cluster-'));
  const procs: ManagedProcess[] = [];
  const ports = await freePorts(masters);
  const addresses = ports.map((p) => `127.0.0.1:${p}`);
  const started = group(dir, procs, addresses);
  try {
    for (const port of ports) {
      const args = [...baseArgs(port, dir), '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`];
      procs.push(await launchRedisServer(`redis-cluster:${port}`, args));
    }
    const cli = process.env.REDIS_CLI_BIN ?? 'redis-cli';
    const created = spawnSync(cli, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed (${created.error?.message ?? created.status}): ${created.stdout}${created.stderr}`);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const info = spawnSync(cli, ['-p', String(ports[0]), 'cluster', 'info'], { encoding: 'utf8', timeout: 5_000 }).stdout ?? '';
      if (info.includes('cluster_state:ok')) break;
      if (Date.now() > deadline) throw new Error(`cluster not ok after 15 s:\n${info}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return started;
  } catch (err) {
    await started.dispose();
    throw err;
  }
}

/** One master and one sentinel watching it as `name`. */
export async function startRedisSentinel(name: string): Promise<TestRedisGroup> {
  const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-redis-sentinel-'));
  const procs: ManagedProcess[] = [];
  const [masterPort, sentinelPort] = (await freePorts(2)) as [number, number];
  const started = group(dir, procs, [`127.0.0.1:${sentinelPort}`]);
  try {
    procs.push(await launchRedisServer(`redis-master:${masterPort}`, baseArgs(masterPort, dir)));
    // Sentinel rewrites its config file, so it gets its own.
    const conf = path.join(dir, 'sentinel.conf');
    writeFileSync(conf, `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ${name} 127.0.0.1 ${masterPort} 1\n`);
    procs.push(await launchRedisServer(`redis-sentinel:${sentinelPort}`, [conf, '--sentinel'], /\+monitor master/));
    return started;
  } catch (err) {
    await started.dispose();
    throw err;
  }
}
