// Which tools declare an outputSchema, learned from the tools/list results this process relays.
//
// A client that knows a tool's outputSchema validates any structuredContent of its result, error results
// included (the MCP TypeScript SDK throws -32602 on a mismatch), so a denial for such a tool must not put
// its machine-readable code in structuredContent, or the agent never sees the explanation.

const withOutputSchema = new Set<string>();
const MAX_TOOLS = 10_000;

/** Records the tools of one tools/list result, under the names the client sees. */
export function noteToolList(tools: readonly unknown[]): void {
  for (const tool of tools) {
    if (typeof tool !== 'object' || tool === null) continue;
    const { name, outputSchema } = tool as { name?: unknown; outputSchema?: unknown };
    if (typeof name !== 'string') continue;
    if (outputSchema !== undefined && withOutputSchema.size < MAX_TOOLS) withOutputSchema.add(name);
    else if (outputSchema === undefined) withOutputSchema.delete(name);
  }
}

export function hasOutputSchema(tool: string | undefined): boolean {
  return tool !== undefined && withOutputSchema.has(tool);
}
