// Which tools declare an outputSchema, learned from the tools/list results relayed under one config version.
//
// A client that knows a tool's outputSchema validates any structuredContent of its result, error results
// included (the MCP TypeScript SDK throws -32602 on a mismatch), so a denial for such a tool must not put
// its machine-readable code in structuredContent, or the agent never sees the explanation.
//
// One catalog per Runtime (src/app/runtime/load.ts creates it with the runtime): two configs in one process never
// share what they learned, and a reload starts empty, because the new config may route the same client-facing name
// to another backend (prefixes, backends), whose tool may or may not declare a schema.

/** Bound on the names one catalog remembers; past it, new schema-declaring tools are not recorded (see below). */
export const MAX_CATALOG_TOOLS = 10_000;

export interface ToolCatalog {
  /** Records the tools of one tools/list result, under the names the client sees. */
  note(tools: readonly unknown[]): void;
  /** True when the last list that named `tool` gave it an outputSchema. */
  hasOutputSchema(tool: string | undefined): boolean;
}

/**
 * An empty catalog. Full, it records no more schema-declaring tools: a denial for such a tool then carries its code
 * in structuredContent, which costs that client the sentence (the SDK's -32602) but never lets a call through.
 */
export function createToolCatalog(): ToolCatalog {
  const withOutputSchema = new Set<string>();
  return Object.freeze({
    note(tools: readonly unknown[]): void {
      for (const tool of tools) {
        if (typeof tool !== 'object' || tool === null) continue;
        const { name, outputSchema } = tool as { name?: unknown; outputSchema?: unknown };
        if (typeof name !== 'string') continue;
        if (outputSchema !== undefined && withOutputSchema.size < MAX_CATALOG_TOOLS) withOutputSchema.add(name);
        else if (outputSchema === undefined) withOutputSchema.delete(name);
      }
    },
    hasOutputSchema: (tool: string | undefined): boolean => tool !== undefined && withOutputSchema.has(tool),
  });
}
