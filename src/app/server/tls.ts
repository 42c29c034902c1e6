// gRPC server credentials: plain text, or TLS that requires a client certificate signed by the configured CA.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ConfigError } from '../../core/config/errors.js';
import type { ServerTlsConfig } from '../../core/config/schema.js';

/** Read once at start-up (a certificate rotation is a restart); paths are relative to the config file. */
export function grpcCredentials(tls: ServerTlsConfig | undefined, configFile: string): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const files = tlsFiles(tls, configFile);
  // true: a client that shows no certificate, or one the CA did not sign, is refused during the handshake.
  return grpc.ServerCredentials.createSsl(files.ca, [{ cert_chain: files.cert, private_key: files.key }], true);
}

export interface TlsFiles {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** The PEM files of `server.tls`, read once; every toolgate port that takes Envoy's connections uses them alike. */
export function tlsFiles(tls: ServerTlsConfig, configFile: string): TlsFiles {
  const dir = path.dirname(path.resolve(configFile));
  const read = (field: keyof ServerTlsConfig): Buffer => {
    try {
      return readFileSync(path.resolve(dir, tls[field]));
    } catch (err) {
      throw new ConfigError(configFile, [{ path: `server.tls.${field}`, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
    }
  };
  return { ca: read('caFile'), cert: read('certFile'), key: read('keyFile') };
}
