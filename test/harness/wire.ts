// Hand-built protobuf bytes for the codec tests: what no encoder of a typed message writes (bytes that are not UTF-8
// in a string field, a map key twice, fields of unknown numbers, a message field sent twice).
import protobuf from 'protobufjs';

const writer = (): protobuf.Writer => protobuf.Writer.create();
const finish = (w: protobuf.Writer): Buffer => Buffer.from(w.finish());

/** A length-delimited field (string, bytes or message): its tag, its length, the bytes as given. */
export const len = (field: number, content: Buffer | string): Buffer => finish(writer().uint32((field << 3) | 2).bytes(typeof content === 'string' ? Buffer.from(content, 'utf8') : content));
export const varint = (field: number, value: number): Buffer => finish(writer().uint32(field << 3).uint32(value));
export const fixed64 = (field: number): Buffer => finish(writer().uint32((field << 3) | 1).fixed64(0x0102030405));
export const fixed32 = (field: number): Buffer => finish(writer().uint32((field << 3) | 5).fixed32(0x01020304));
export const cat = (...parts: Buffer[]): Buffer => Buffer.concat(parts);

/** Fields of numbers no Envoy message on toolgate's path declares, one of each wire type. */
export const unknownFields = (): Buffer => cat(varint(99, 7), fixed64(98), len(97, 'unknown'), fixed32(96));

/** One map<string, string> entry (HttpRequest.headers is field 3), key and value as raw bytes. */
export const headerEntry = (key: Buffer | string, value: Buffer | string): Buffer => len(3, cat(len(1, key), len(2, value)));

/** CheckRequest { attributes (1) { request (4) { http (2) { ...fields } } } }, each level with `extra` bytes after. */
export function checkRequestWith(httpFields: Buffer, extra: { check?: Buffer; attributes?: Buffer; request?: Buffer } = {}): Buffer {
  const request = cat(len(2, httpFields), extra.request ?? Buffer.alloc(0));
  const attributes = cat(len(4, request), extra.attributes ?? Buffer.alloc(0));
  return cat(len(1, attributes), extra.check ?? Buffer.alloc(0));
}
