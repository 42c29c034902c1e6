// `${NAME}` placeholders in generated deployment files: which a text has, and filling them in strictly.

export const PLACEHOLDER = /\$\{([A-Z][A-Z0-9_]*)\}/g;

export type PlaceholderValues = Readonly<Record<string, string | number>>;

/** Every placeholder name in `text`, sorted, once each. */
export function placeholdersIn(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1] as string))].sort();
}

/** Fills every placeholder; one without a value, or a value without a placeholder (a typo), is an error. */
export function fillPlaceholders(template: string, values: PlaceholderValues): string {
  const wanted = new Set(placeholdersIn(template));
  const missing = [...wanted].filter((name) => !(name in values));
  const unused = Object.keys(values).filter((name) => !wanted.has(name));
  if (missing.length || unused.length) {
    throw new Error([
      missing.length ? `no value for ${missing.join(', ')}` : '',
      unused.length ? `no placeholder for ${unused.join(', ')}` : '',
    ].filter(Boolean).join('; '));
  }
  return template.replace(PLACEHOLDER, (_whole, name: string) => String(values[name]));
}
