// The per-config runtime every request stage reads: derived once from a valid config file (src/app/runtime/load.ts)
// and never replaced in place; a reload builds a new one. The interfaces live here, below the stages, so they never import app.
import type { ParsedConfig } from './config/schema.js';
import type { CompiledPolicy } from './policy/compile.js';
import type { JwtVerifier } from './identity/jwt.js';
import type { ResourceMetadata } from './identity/metadata.js';
import type { Keyring } from './session/keys.js';
import type { PinSettings } from './pins/settings.js';
import type { ToolCatalog } from './mcp/catalog.js';

/** Everything a request needs, derived once per config version; only `catalog` learns while it is in force. */
export interface Runtime {
  readonly file: string;
  /** 1 for the config a process started with, one more for each reload that took effect. */
  readonly version: number;
  readonly config: ParsedConfig;
  readonly policy: CompiledPolicy;
  readonly verifier: JwtVerifier;
  readonly metadata: ResourceMetadata;
  readonly sessions: { readonly keyring: Keyring; readonly ephemeral: boolean; readonly ttlSeconds: number };
  /** Pinned definitions per backend (src/core/pins); `active` false when every backend has them off. */
  readonly pins: PinSettings;
  /**
   * Which tools declare an outputSchema, learned from the tools/list results relayed under this config (ext_proc
   * writes, ext_authz's denials read). Created empty with the runtime: a reload or another config starts afresh.
   */
  readonly catalog: ToolCatalog;
}

/** The runtime in force now; hot reload swaps it only for a valid config (src/app/runtime/watch.ts). */
export interface RuntimeHolder {
  current(): Runtime;
  /** Re-read the file now; returns true when the new config took effect. */
  reload(): boolean;
  close(): void;
  onChange(listener: (runtime: Runtime) => void): void;
}
