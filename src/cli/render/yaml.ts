// Plain objects → YAML text, keeping the "why" comments attached to the objects that need them.
import { Document, isMap, isScalar, isSeq, type Node } from 'yaml';

/** Key of a note that goes above the object itself (a list item), not above one of its fields. */
export const ABOVE = Symbol('above');

type Notes = Partial<Record<string | typeof ABOVE, string>>;

/** Where an object keeps its notes: a non-enumerable symbol property, so YAML, JSON and spreads never see it. */
const NOTES = Symbol('notes');

function notesOf(target: unknown): Notes | undefined {
  return typeof target === 'object' && target !== null ? (target as { [NOTES]?: Notes })[NOTES] : undefined;
}

/** Attaches comments to `target`: `{field: text}` goes above that field, `{[ABOVE]: text}` above the object. */
export function note<T extends object>(target: T, comments: Notes): T {
  Object.defineProperty(target, NOTES, { value: { ...notesOf(target), ...comments }, enumerable: false, configurable: true });
  return target;
}

/** Block-style YAML, no line folding (long strings stay on one line), with the notes as `#` comments. */
export function toYaml(value: object): string {
  const doc = new Document(value, { aliasDuplicateObjects: false });
  if (doc.contents) attach(doc.contents as Node, value);
  return doc.toString({ lineWidth: 0, indentSeq: true });
}

function attach(node: Node, value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  if (isSeq(node) && Array.isArray(value)) {
    node.items.forEach((item, i) => {
      const above = notesOf(value[i])?.[ABOVE];
      if (above !== undefined) (item as Node).commentBefore = comment(above);
      attach(item as Node, value[i]);
    });
    return;
  }
  if (!isMap(node)) return;
  const own = notesOf(value);
  const fields = value as Record<string, unknown>;
  for (const pair of node.items) {
    if (!isScalar(pair.key)) continue;
    const key = String(pair.key.value);
    const text = own?.[key];
    if (text !== undefined) pair.key.commentBefore = comment(text);
    attach(pair.value as Node, fields[key]);
  }
}

/** yaml prints each line after `#`; a leading space keeps `# text` readable. */
function comment(text: string): string {
  return text.split('\n').map((line) => (line ? ` ${line}` : '')).join('\n');
}
