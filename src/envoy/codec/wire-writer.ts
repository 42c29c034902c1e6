// protobufjs Writer helpers for the messages toolgate answers with: header options and Struct values from plain data.
import protobuf from 'protobufjs';

export type Writer = protobuf.Writer;
export const newWriter = (): Writer => protobuf.Writer.create();

/** A tag: field number and wire type, as protobuf puts it before a value. */
export const tag = (field: number, wireType: 0 | 1 | 2): number => (field << 3) | wireType;
export const VARINT = 0;
export const FIXED64 = 1;
export const LENGTH = 2;

/** envoy.config.core.v3.HeaderValueOption.HeaderAppendAction, by the names toolgate's plain objects use. */
export const APPEND_ACTION = {
  APPEND_IF_EXISTS_OR_ADD: 0,
  ADD_IF_ABSENT: 1,
  OVERWRITE_IF_EXISTS_OR_ADD: 2,
  OVERWRITE_IF_EXISTS: 3,
} as const;
export type AppendAction = keyof typeof APPEND_ACTION;

/** envoy.config.core.v3.HeaderValue: `value` as text or `raw_value` as bytes (ext_proc wants the bytes). */
export interface HeaderValue {
  readonly key: string;
  readonly value?: string;
  readonly raw_value?: Buffer;
}

/**
 * envoy.config.core.v3.HeaderValueOption. The deprecated `append` is never written, so Envoy follows `append_action`
 * alone; an option without `append_action` writes none (Envoy's default then applies).
 */
export interface HeaderValueOption {
  readonly header: HeaderValue;
  readonly append_action?: AppendAction;
}

/** Writes `message` as field `field` of the message being written: its tag, its length, then its fields. */
export function nested(w: Writer, field: number, message: (w: Writer) => void): void {
  w.uint32(tag(field, LENGTH)).fork();
  message(w);
  w.ldelim();
}

export function writeHeaderValueOption(w: Writer, field: number, option: HeaderValueOption): void {
  w.uint32(tag(field, LENGTH)).fork();
  w.uint32(tag(1, LENGTH)).fork();
  w.uint32(tag(1, LENGTH)).string(option.header.key);
  if (option.header.value != null) w.uint32(tag(2, LENGTH)).string(option.header.value);
  if (option.header.raw_value != null) w.uint32(tag(3, LENGTH)).bytes(option.header.raw_value);
  w.ldelim();
  if (option.append_action != null) w.uint32(tag(3, VARINT)).int32(APPEND_ACTION[option.append_action]);
  w.ldelim();
}

/**
 * google.protobuf.Struct straight from a plain object, without building `{fields: {k: {stringValue}}}` first and
 * converting it again: the same bytes the full encoder writes for `toStruct(obj)` (src/envoy/struct.ts), whose
 * rules this follows (undefined members left out, anything else unknown written as its string).
 */
export function writeStruct(w: Writer, field: number, obj: Readonly<Record<string, unknown>>): void {
  w.uint32(tag(field, LENGTH)).fork();
  writeStructFields(w, obj);
  w.ldelim();
}

function writeStructFields(w: Writer, obj: Readonly<Record<string, unknown>>): void {
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (value === undefined) continue;
    // map<string, Value> fields = 1: one entry message per member, key = 1, value = 2.
    w.uint32(tag(1, LENGTH)).fork().uint32(tag(1, LENGTH)).string(key).uint32(tag(2, LENGTH)).fork();
    writeValue(w, value);
    w.ldelim().ldelim();
  }
}

/** google.protobuf.Value: null_value = 1, number_value = 2, string_value = 3, bool_value = 4, struct_value = 5, list_value = 6. */
function writeValue(w: Writer, value: unknown): void {
  if (value === null) w.uint32(tag(1, VARINT)).int32(0);
  else if (typeof value === 'string') w.uint32(tag(3, LENGTH)).string(value);
  else if (typeof value === 'number') w.uint32(tag(2, FIXED64)).double(value);
  else if (typeof value === 'boolean') w.uint32(tag(4, VARINT)).bool(value);
  else if (Array.isArray(value)) {
    w.uint32(tag(6, LENGTH)).fork();
    for (const item of value) {
      w.uint32(tag(1, LENGTH)).fork();
      writeValue(w, item);
      w.ldelim();
    }
    w.ldelim();
  } else if (typeof value === 'object') {
    w.uint32(tag(5, LENGTH)).fork();
    writeStructFields(w, value as Record<string, unknown>);
    w.ldelim();
  } else w.uint32(tag(3, LENGTH)).string(String(value));
}
