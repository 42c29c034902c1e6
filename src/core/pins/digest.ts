// The digest of one tool, prompt or resource-template definition: SHA-256 over its canonical JSON (docs/pins.md).
import { createHash } from 'node:crypto';

/** What a list shows, as far as pins go. Resources themselves are data, not instructions: they are not pinned. */
export type PinKind = 'tools' | 'prompts' | 'resourceTemplates';

/**
 * The fields that make up a definition, per kind: what an agent reads and what it is asked to send. Anything else
 * (`_meta`, icons, fields a later spec adds) is left out, so a backend that adds telemetry does not "change" a tool.
 */
export const PIN_FIELDS: Readonly<Record<PinKind, readonly string[]>> = Object.freeze({
  tools: ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations'],
  prompts: ['name', 'title', 'description', 'arguments'],
  resourceTemplates: ['uriTemplate', 'name', 'title', 'description', 'mimeType', 'annotations'],
});

/** The field an item is pinned by: its name, or a template's uriTemplate. */
export const PIN_KEY: Readonly<Record<PinKind, 'name' | 'uriTemplate'>> = Object.freeze({ tools: 'name', prompts: 'name', resourceTemplates: 'uriTemplate' });

/**
 * `sha256-` + hex SHA-256 of the UTF-8 canonical JSON of the object holding the kind's fields that the item has
 * (an absent field is left out; a `null` one is kept). `name` is the backend's own name, never the gateway's
 * prefixed one, so a digest does not depend on how toolgate exposes the backend.
 */
export function definitionDigest(kind: PinKind, item: Readonly<Record<string, unknown>>, name?: string): string {
  const picked: Record<string, unknown> = {};
  for (const field of PIN_FIELDS[kind]) if (item[field] !== undefined) picked[field] = item[field];
  if (name !== undefined) picked[PIN_KEY[kind]] = name;
  return `sha256-${createHash('sha256').update(canonicalJson(picked), 'utf8').digest('hex')}`;
}

/**
 * RFC 8785 (JCS) for the JSON a list result can hold: object keys sorted by UTF-16 code units (JavaScript's default
 * sort), no whitespace, strings and numbers as ECMAScript's JSON.stringify writes them (which is what JCS specifies).
 * Array order is kept: it is meaningful (e.g. an enum's order, a prompt's argument order).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const entries: string[] = [];
    for (const key of Object.keys(record).sort()) {
      if (record[key] === undefined) continue;
      entries.push(`${JSON.stringify(key)}:${canonicalJson(record[key])}`);
    }
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
