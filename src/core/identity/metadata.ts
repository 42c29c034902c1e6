// RFC 9728 protected-resource metadata and the WWW-Authenticate challenge that points at it.
import type { ParsedConfig } from '../config/schema.js';

export const METADATA_PATH = '/.well-known/oauth-protected-resource';

export interface ResourceMetadata {
  readonly document: string;
  /** The metadata URL for this resource, as RFC 9728 §3.1 builds it (well-known path inserted before the resource path). */
  readonly url: string;
  /** Paths that serve the document: the RFC 9728 path-suffixed form and the bare well-known path. */
  readonly paths: readonly string[];
}

export function buildMetadata(config: ParsedConfig): ResourceMetadata {
  const resource = new URL(config.resource);
  const suffix = resource.pathname === '/' ? '' : resource.pathname.replace(/\/$/, '');
  const url = `${resource.origin}${METADATA_PATH}${suffix}`;
  const jwt = config.identity.jwt;
  const doc: Record<string, unknown> = {
    resource: config.resource,
    authorization_servers: config.metadata.authorizationServers ?? [jwt.issuer],
    bearer_methods_supported: ['header'],
  };
  if (config.metadata.scopesSupported) doc.scopes_supported = config.metadata.scopesSupported;
  if (config.metadata.resourceName) doc.resource_name = config.metadata.resourceName;
  if (config.metadata.resourceDocumentation) doc.resource_documentation = config.metadata.resourceDocumentation;
  const paths = suffix ? [`${METADATA_PATH}${suffix}`, METADATA_PATH] : [METADATA_PATH];
  return Object.freeze({ document: JSON.stringify(doc), url, paths: Object.freeze(paths) });
}

/** RFC 6750 §3 challenge with the RFC 9728 `resource_metadata` parameter. */
export function bearerChallenge(metadataUrl: string, error?: { code: 'invalid_token' | 'invalid_request'; description: string }): string {
  const parts = [`resource_metadata="${metadataUrl}"`];
  if (error) parts.push(`error="${error.code}"`, `error_description="${error.description.replace(/["\\]/g, '')}"`);
  return `Bearer ${parts.join(', ')}`;
}
