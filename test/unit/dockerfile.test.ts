// The Dockerfile, read as text (no Docker daemon needed): multi-stage, production dependencies only in the runtime
// image, a numeric non-root user, a health check without curl, the right entrypoint, and nothing secret baked in.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/core/config/schema.js';
import { REPO_ROOT } from '../harness/repo.js';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** Index of the stage (FROM) it belongs to. */
  readonly stage: number;
}

interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Joins continuation lines, drops comments, splits into instructions grouped by stage. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (current === '' && /^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim()) logical.push(current.trim());
    current = '';
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ image: m?.[1] ?? args, name: m?.[2], instructions: [] });
      continue;
    }
    if (upper === 'ARG' && stages.length === 0) continue;
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${keyword} before the first FROM`);
    stage.instructions.push({ keyword: upper, args, stage: stages.length - 1 });
  }
  return stages;
}

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const runtime = stages.at(-1) as Stage;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const one = (stage: Stage, keyword: string) => {
  const found = all(stage, keyword);
  expect(found, `${keyword} in stage ${stage.name}`).toHaveLength(1);
  return found[0] as Instruction;
};
const stageNamed = (name: string) => stages.find((s) => s.name === name);

describe('Dockerfile', () => {
  it('is multi-stage: a build stage with the toolchain, and a slim runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]?.image).toMatch(/^node:\d/);
    expect(runtime.image).toMatch(/^(node:[\d.]+-[-.\w]*slim[-.\w]*|gcr\.io\/distroless\/nodejs\d+\S*)$/);
    const build = stages.find((s) => all(s, 'RUN').some((r) => /\btsc\b/.test(r.args)));
    expect(build, 'a stage compiles with tsc').toBeDefined();
    expect(all(build as Stage, 'RUN').some((r) => /\bnpm ci\b/.test(r.args))).toBe(true);
    expect(build).not.toBe(runtime);
  });

  it('puts production dependencies only into the runtime image', () => {
    const copied = all(runtime, 'COPY').filter((c) => /\bnode_modules\b/.test(c.args));
    expect(copied).toHaveLength(1);
    const from = /--from=(\S+)/.exec(copied[0]?.args ?? '')?.[1];
    const source = stageNamed(from ?? '');
    expect(source, 'node_modules come from a named stage').toBeDefined();
    const installs = all(source as Stage, 'RUN').filter((r) => /\bnpm (ci|install)\b/.test(r.args));
    expect(installs.length).toBeGreaterThan(0);
    for (const run of installs) expect(run.args).toMatch(/--omit=dev/);
    // The runtime stage itself installs nothing (no toolchain, no dev dependencies).
    expect(all(runtime, 'RUN').filter((r) => /\bnpm\b/.test(r.args))).toEqual([]);
  });

  it('copies the compiled dist/ (from the build stage), bin/ and package.json into the runtime image', () => {
    const copies = all(runtime, 'COPY').map((c) => c.args);
    const build = stages.find((s) => all(s, 'RUN').some((r) => /\btsc\b/.test(r.args)));
    expect(copies).toContainEqual(expect.stringMatching(new RegExp(`^--from=${build?.name}\\s+\\S*dist\\s+\\S*dist$`)));
    expect(copies).toContainEqual(expect.stringMatching(/^bin\s+\S*bin$/));
    expect(copies).toContainEqual(expect.stringMatching(/^package\.json\s/));
  });

  it('runs as a numeric, non-root user', () => {
    const user = one(runtime, 'USER').args;
    const [uid, gid] = user.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    if (gid !== undefined) expect(Number(gid)).toBeGreaterThan(0);
    // USER comes before the entrypoint runs anything, and nothing switches back.
    expect(all(runtime, 'USER')).toHaveLength(1);
  });

  it('checks health on the admin /healthz with node (no curl or wget in a slim image)', () => {
    const check = one(runtime, 'HEALTHCHECK').args;
    expect(check).toMatch(/CMD \["node", "-e",/);
    expect(check).not.toMatch(/\b(curl|wget)\b/);
    const env = all(runtime, 'ENV').map((e) => e.args).join(' ');
    const defaults = configSchema.shape.server.parse(undefined);
    expect(env).toContain(`TOOLGATE_HEALTH_URL=http://127.0.0.1:${defaults.adminPort}/healthz`);
  });

  it('exposes the default gRPC and admin ports, sets NODE_ENV=production and starts `serve` on the mounted config', () => {
    const defaults = configSchema.shape.server.parse(undefined);
    expect(one(runtime, 'EXPOSE').args.split(/\s+/).sort()).toEqual([String(defaults.grpcPort), String(defaults.adminPort)].sort());
    expect(all(runtime, 'ENV').map((e) => e.args).join(' ')).toMatch(/\bNODE_ENV=production\b/);
    expect(JSON.parse(one(runtime, 'ENTRYPOINT').args)).toEqual(['node', 'bin/toolgate.js', 'serve', '--config', '/etc/toolgate/config.yaml']);
  });

  it('writes nothing at run time that needs a writable root (no VOLUME, no npm at start)', () => {
    expect(all(runtime, 'VOLUME')).toEqual([]);
    expect(one(runtime, 'ENTRYPOINT').args).not.toMatch(/\bnpm\b/);
  });

  it('bakes no secret in: no secret-looking ARG/ENV, no key files copied', () => {
    for (const stage of stages) {
      for (const i of stage.instructions) {
        if (i.keyword === 'ARG' || i.keyword === 'ENV') expect(i.args, `${i.keyword} ${i.args}`).not.toMatch(/(SECRET|PASSWORD|TOKEN|PRIVATE|API_KEY)\w*=/i);
        if (i.keyword === 'COPY' || i.keyword === 'ADD') expect(i.args).not.toMatch(/secrets|\.key\b|\.pem\b|\.env\b/);
      }
    }
  });
});

describe('the Node runtime: one pinned LTS for the image, the suite and engines', () => {
  const pin = readFileSync(join(REPO_ROOT, '.nvmrc'), 'utf8').trim();
  const major = Number(pin.split('.')[0]);

  it('.nvmrc pins one exact version of a supported LTS line (even major, 24 or later: Node 20 ended in April 2026)', () => {
    expect(pin).toMatch(/^\d+\.\d+\.\d+$/);
    expect(major % 2, 'only even majors become LTS').toBe(0);
    expect(major).toBeGreaterThanOrEqual(24);
  });

  it('every stage of the Dockerfile builds on exactly that version', () => {
    for (const stage of stages) expect(stage.image, stage.name).toMatch(new RegExp(`^node:${pin.replaceAll('.', '\\.')}-`));
  });

  it('package.json engines names that major alone', () => {
    const engines = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).engines.node as string;
    expect(engines).toBe(`>=${pin} <${major + 1}`);
  });

  it('this suite runs on that major (run it with `npm test`, which installs the pinned Node when the machine\'s is older)', () => {
    expect(Number(process.versions.node.split('.')[0]), `running on Node ${process.version}`).toBe(major);
  });
});

describe('.dockerignore', () => {
  const lines = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

  it('is an allow-list: everything is excluded except what the build copies', () => {
    expect(lines[0]).toBe('*');
    const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    expect(allowed.sort()).toEqual(['bin', 'package-lock.json', 'package.json', 'src', 'tsconfig.json']);
  });

  it('lets in every path the Dockerfile copies from the context', () => {
    const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const fromContext = stages.flatMap((s) => all(s, 'COPY')).filter((c) => !c.args.startsWith('--from='))
      .flatMap((c) => c.args.split(/\s+/).slice(0, -1));
    for (const path of fromContext) expect(allowed, path).toContain(path.replace(/\/$/, ''));
  });
});
