// Span names and attribute keys: the OpenTelemetry MCP semantic conventions plus toolgate's own.

/** The instrumentation scope of every toolgate span. */
export const TRACER_NAME = 'toolgate';

export const ATTR = {
  mcpMethod: 'mcp.method.name',
  mcpSession: 'mcp.session.id',
  mcpProtocol: 'mcp.protocol.version',
  mcpResource: 'mcp.resource.uri',
  toolName: 'gen_ai.tool.name',
  promptName: 'gen_ai.prompt.name',
  genAiOperation: 'gen_ai.operation.name',
  requestId: 'jsonrpc.request.id',
  errorType: 'error.type',
  httpMethod: 'http.request.method',
  httpStatus: 'http.response.status_code',
  rpcSystem: 'rpc.system',
  rpcService: 'rpc.service',
  rpcMethod: 'rpc.method',
  user: 'enduser.id',
  decision: 'toolgate.decision',
  reason: 'toolgate.reason',
  task: 'toolgate.task',
  decisionId: 'toolgate.decision_id',
  policy: 'toolgate.policy',
  dryRunDecision: 'toolgate.dry_run.decision',
  dryRunReason: 'toolgate.dry_run.reason',
  dryRunPolicy: 'toolgate.dry_run.policy',
} as const;

export type Attributes = Record<string, string | number | boolean>;

/**
 * `{mcp.method.name} {target}` as the MCP conventions name spans (`tools/call refund`), the method
 * alone when there is no target, and `{fallback} {HTTP method}` for requests that carry no MCP
 * method (metadata documents, the GET event stream, DELETE, unauthenticated bodies toolgate did not read).
 */
export function spanName(method: string | undefined, target: string | undefined, fallback: string, httpMethod: string | undefined): string {
  if (method === undefined) return httpMethod ? `${fallback} ${httpMethod}` : fallback;
  return target === undefined ? method : `${method} ${target}`;
}

/** The attributes the MCP conventions tie to a method's target. */
export function targetAttributes(method: string | undefined, target: string | undefined): Attributes {
  if (target === undefined) return {};
  switch (method) {
    case 'tools/call':
      return { [ATTR.toolName]: target, [ATTR.genAiOperation]: 'execute_tool' };
    case 'prompts/get':
      return { [ATTR.promptName]: target };
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return { [ATTR.mcpResource]: target };
    default:
      return {};
  }
}

/** Sets only the defined values, so absent facts stay absent instead of becoming "undefined". */
export function defined(values: Record<string, string | number | boolean | undefined>): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(values)) if (value !== undefined) out[key] = value;
  return out;
}
