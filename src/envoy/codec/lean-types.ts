// The Envoy request messages toolgate decodes, as protobufjs types with Envoy's field numbers, unread parts left opaque.
import protobuf from 'protobufjs';

/**
 * Every field the full generated types declare on the way to what toolgate reads is declared here too, with the same
 * number and a type that consumes the same bytes — so both decoders walk the same byte ranges at every level, and a
 * malformed field can never make this one read a header value as the method (a parser differential). A message or
 * map toolgate does not read is `bytes`: its length is checked as the full decoder checks it, its contents are never
 * decoded (addresses, timestamps, metadata toolgate does not read). Strings and varints keep their type: protobufjs
 * reads an overlong string up to the end of its message instead of failing, as a `bytes` field would. protobufjs
 * skips field numbers a type does not declare, as the full decoder does for the fields Envoy added after the
 * vendored protos.
 *
 * Field numbers: envoy/service/auth/v3/{external_auth,attribute_context}.proto, envoy/service/ext_proc/v3/
 * external_processor.proto and envoy/config/core/v3/base.proto as vendored in @grpc/grpc-js-xds (the full
 * decoder's schema); test/unit/lean-codec-schema.test.ts holds each type here to that schema.
 */
const OPAQUE = 'bytes';

const DESCRIPTOR = {
  toolgate: {
    nested: {
      lean: {
        nested: {
          // envoy.service.auth.v3.CheckRequest → AttributeContext → AttributeContext.Request → HttpRequest
          CheckRequest: { fields: { attributes: { type: 'AttributeContext', id: 1 } } },
          AttributeContext: {
            fields: {
              source: { type: OPAQUE, id: 1 },
              destination: { type: OPAQUE, id: 2 },
              request: { type: 'AttributeRequest', id: 4 },
              context_extensions: { rule: 'repeated', type: OPAQUE, id: 10 },
              metadata_context: { type: OPAQUE, id: 11 },
              tls_session: { type: OPAQUE, id: 12 },
              route_metadata_context: { type: OPAQUE, id: 13 },
            },
          },
          AttributeRequest: { fields: { time: { type: OPAQUE, id: 1 }, http: { type: 'HttpRequest', id: 2 } } },
          HttpRequest: {
            fields: {
              id: { type: 'string', id: 1 },
              method: { type: 'string', id: 2 },
              headers: { keyType: 'string', type: 'string', id: 3 },
              path: { type: 'string', id: 4 },
              host: { type: 'string', id: 5 },
              scheme: { type: 'string', id: 6 },
              query: { type: 'string', id: 7 },
              fragment: { type: 'string', id: 8 },
              size: { type: 'int64', id: 9 },
              protocol: { type: 'string', id: 10 },
              body: { type: 'string', id: 11 },
              raw_body: { type: 'bytes', id: 12 },
              // Filled instead of `headers` only when ext_authz's encode_raw_headers is on, which toolgate's rendered
              // filters never turn on; toolgate reads `headers`, as it always has.
              header_map: { type: OPAQUE, id: 13 },
            },
          },
          // envoy.service.ext_proc.v3.ProcessingRequest
          ProcessingRequest: {
            oneofs: { request: { oneof: ['request_headers', 'response_headers', 'request_body', 'response_body', 'request_trailers', 'response_trailers'] } },
            fields: {
              request_headers: { type: 'HttpHeaders', id: 2 },
              response_headers: { type: 'HttpHeaders', id: 3 },
              request_body: { type: 'HttpBody', id: 4 },
              response_body: { type: 'HttpBody', id: 5 },
              request_trailers: { type: 'HttpTrailers', id: 6 },
              response_trailers: { type: 'HttpTrailers', id: 7 },
              metadata_context: { type: 'Metadata', id: 8 },
              attributes: { rule: 'repeated', type: OPAQUE, id: 9 },
              observability_mode: { type: 'bool', id: 10 },
            },
          },
          HttpHeaders: { fields: { headers: { type: 'HeaderMap', id: 1 }, attributes: { rule: 'repeated', type: OPAQUE, id: 2 }, end_of_stream: { type: 'bool', id: 3 } } },
          HttpBody: { fields: { body: { type: 'bytes', id: 1 }, end_of_stream: { type: 'bool', id: 2 } } },
          // toolgate asks for no trailers and answers none: what they hold is never read.
          HttpTrailers: { fields: { trailers: { type: OPAQUE, id: 1 } } },
          // envoy.config.core.v3.HeaderMap / HeaderValue / Metadata
          HeaderMap: { fields: { headers: { rule: 'repeated', type: 'HeaderValue', id: 1 } } },
          HeaderValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 }, raw_value: { type: 'bytes', id: 3 } } },
          Metadata: { fields: { filter_metadata: { keyType: 'string', type: 'google.protobuf.Struct', id: 1 }, typed_filter_metadata: { rule: 'repeated', type: OPAQUE, id: 2 } } },
        },
      },
    },
  },
};

const root = new protobuf.Root()
  // google.protobuf.Struct as protobufjs ships it: the very type the full decoder resolves Struct fields to.
  .addJSON(protobuf.common.get('google/protobuf/struct.proto')?.nested ?? {})
  .addJSON(DESCRIPTOR);
root.resolveAll();

/** The lean types by their Envoy name's last part (`HttpRequest`, `ProcessingRequest`, ...). */
export const leanType = (name: string): protobuf.Type => root.lookupType(`toolgate.lean.${name}`);

export const LEAN_CHECK_REQUEST: protobuf.Type = leanType('CheckRequest');
export const LEAN_PROCESSING_REQUEST: protobuf.Type = leanType('ProcessingRequest');
