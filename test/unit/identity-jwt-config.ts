// A parsed `identity.jwt` section for unit tests, with the schema's defaults filled in.
import { configSchema, type JwtConfig } from '../../src/core/config/schema.js';

export function jwtSchemaForTests(jwt: Record<string, unknown>): JwtConfig {
  const parsed = configSchema.parse({ resource: 'https://mcp.test/mcp', identity: { jwt }, store: { type: 'memory' } });
  return parsed.identity.jwt;
}
