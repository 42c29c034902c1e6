// `toolgate test` against the real gate: every example case for a sidecar stack is run through runCase (the CLI's
// verdict) and sent through the pinned Envoy + built toolgate + an MCP SDK backend; both must agree call by call, and
// the backend's request record must show an allowed call ran and a denied one did not (issue 14).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { z } from 'zod';
import { parse } from 'yaml';
import type { RawConfig } from '../../src/core/config/schema.js';
import { loadCaseFile } from '../../src/cli/policytest/cases.js';
import { REPO_ROOT } from '../harness/repo.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { checkCase, type AgreeTarget } from './helpers/policy-agree.js';
import { startStack, type Stack } from './helpers/toolgate.js';

printLogsOnFailure();

/** What the example policies name but the harness server does not serve, so an allowed call has something to run. */
function exampleFeatures(server: McpServer): void {
  const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });
  server.registerTool('close_account', { description: 'Closes an account.', inputSchema: { account: z.string() } }, ({ account }) => text(`closed ${account}`));
  server.registerPrompt('refund_policy', { description: 'The refund policy.' }, () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'Refunds within 30 days.' } }] }));
  for (const uri of ['billing://policies/eu', 'billing://customers/42']) {
    server.registerResource(uri, uri, { mimeType: 'text/plain' }, (u) => ({ contents: [{ uri: u.href, mimeType: 'text/plain', text: `contents of ${u.href}` }] }));
  }
}

/** The example config's policy sections on the stack's own resource, IdP and ports (identity.jwt is the test IdP's). */
function exampleSections(configFile: string, stackIdp: { issuer: string; jwksUrl: string | undefined }): { tasks: NonNullable<RawConfig['tasks']>; extra: Partial<RawConfig> } {
  const example = parse(readFileSync(configFile, 'utf8')) as RawConfig;
  const { resource: _resource, server: _server, identity, tasks, ...rest } = example;
  if (!tasks) throw new Error(`${configFile} has no tasks`);
  const jwt = { issuer: stackIdp.issuer, jwksUri: stackIdp.jwksUrl, algorithms: ['RS256'] };
  // The example's task selection (claim, header) is kept as written; left out, the defaults apply on both sides.
  return { tasks, extra: { ...rest, identity: { jwt, ...(identity?.task ? { task: identity.task } : {}) } } as Partial<RawConfig> };
}

/** Runs one case file both ways on a sidecar stack serving its config. */
function agreeOn(caseFileName: string): void {
  const caseFile = loadCaseFile(join(REPO_ROOT, 'examples', caseFileName));
  const configFile = caseFile.config;
  if (!configFile) throw new Error(`${caseFileName} names no config`);

  describe(`${caseFileName} (${configFile.split('/').pop()}): toolgate test and the real gate agree`, () => {
    let s: Stack;
    beforeAll(async () => {
      // The stack's IdP is only known once it runs: start on a placeholder task, then serve the example's sections.
      s = await startStack({ tasks: { placeholder: { tools: [{ tool: 'echo' }] } }, backend: { extend: exampleFeatures } });
      const { tasks, extra } = exampleSections(configFile, s.idp);
      await s.toolgate.rewriteConfig(s.configText(tasks, extra));
      await s.toolgate.restart();
    }, 120_000);
    afterAll(async () => {
      await s?.stop();
    });

    // The sidecar has one backend: every allowed call belongs there.
    const target = (stack: Stack): AgreeTarget => ({
      endpoint: stack.endpoint,
      idp: stack.idp,
      decisions: () => stack.toolgate.decisions(),
      backends: () => ({ backend: stack.backend.requests }),
      backendOf: () => 'backend',
    });

    caseFile.cases.forEach((c, index) => {
      it(c.name, async () => {
        await checkCase(target(s), configFile, c, index);
      }, 60_000);
    });
  });
}

agreeOn('sidecar.test.yaml');
agreeOn('dry-run.test.yaml');
