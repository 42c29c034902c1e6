// The recorded Envoy fixtures fit the pinned Envoy: a bump of envoy/VERSION without re-recording fails here, saying
// what to run; and every fixture file is what the recorder wrote (its readable view still agrees with its bytes).
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENVOY_VERSION } from '../harness/envoy.js';
import {
  codecs, fixtureVersionProblem, FIXTURES_ROOT, loadScenario, readable, RECORD_COMMAND, scenarioNames, wireBytes, type FixtureMode,
} from '../harness/envoy-fixtures.js';

describe('recorded Envoy fixtures', () => {
  it(`are for the pinned Envoy ${ENVOY_VERSION}, and only for it`, () => {
    const problem = fixtureVersionProblem(readdirSync(FIXTURES_ROOT), ENVOY_VERSION);
    // The whole sentence, not a truncated diff: it says what to run.
    if (problem !== undefined) expect.fail(problem);
  });

  it.each([
    [['layers', 'envoy-1.40.0'], '1.41.0', 'envoy/VERSION pins Envoy 1.41.0, but the fixtures in test/fixtures/envoy-1.40.0/ were recorded from Envoy 1.40.0'],
    [['layers'], '1.40.0', 'No recorded Envoy fixtures in test/fixtures/ for the pinned Envoy 1.40.0'],
    [['envoy-1.40.0', 'envoy-1.41.0'], '1.41.0', 'fixtures for several Envoy versions (1.40.0, 1.41.0)'],
  ])('%j with the pin at %s fails with a sentence that says to re-record', (folders, pin, sentence) => {
    const problem = fixtureVersionProblem(folders, pin);
    expect(problem).toContain(sentence);
    expect(problem).toContain(RECORD_COMMAND);
  });

  const modes: readonly FixtureMode[] = ['sidecar', 'gateway'];
  it.each(modes)('%s: every scenario names the pinned version, and its readable view agrees with the recorded bytes', (mode) => {
    const c = codecs();
    const names = scenarioNames(mode);
    expect(names).toEqual(expect.arrayContaining(['initialize', 'notifications-initialized', 'tools-list', 'tools-call-denied', 'delete']));
    for (const name of names) {
      const scenario = loadScenario(mode, name);
      expect(scenario.envoyVersion, `${mode}.${name}.json`).toBe(ENVOY_VERSION);
      for (const e of scenario.exchanges) {
        if (e.check) {
          expect(readable(c.checkRequest(wireBytes(e.check.request)))).toEqual(e.check.request.view);
          expect(readable(c.checkResponse(wireBytes(e.check.response)))).toEqual(e.check.response.view);
        }
        for (const m of e.stream?.events ?? []) {
          expect(readable((m.from === 'envoy' ? c.processingRequest : c.processingResponse)(wireBytes(m)))).toEqual(m.view);
        }
      }
    }
  });
});
