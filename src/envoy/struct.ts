// google.protobuf.Struct in proto-loader's object form (fields / *_value), for dynamic metadata.

export interface StructValue {
  null_value?: 'NULL_VALUE';
  number_value?: number;
  string_value?: string;
  bool_value?: boolean;
  struct_value?: Struct;
  list_value?: { values: StructValue[] };
}

export interface Struct {
  fields: Record<string, StructValue>;
}

export function toStruct(obj: Readonly<Record<string, unknown>>): Struct {
  const fields: Record<string, StructValue> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) fields[k] = toValue(v);
  return { fields };
}

function toValue(v: unknown): StructValue {
  if (v === null) return { null_value: 'NULL_VALUE' };
  if (typeof v === 'string') return { string_value: v };
  if (typeof v === 'number') return { number_value: v };
  if (typeof v === 'boolean') return { bool_value: v };
  if (Array.isArray(v)) return { list_value: { values: v.map(toValue) } };
  if (typeof v === 'object') return { struct_value: toStruct(v as Record<string, unknown>) };
  return { string_value: String(v) };
}

/** Reads a Struct back into a plain object (used by ext_proc for ext_authz's forwarded metadata). */
export function fromStruct(s: Struct | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = fromValue(v);
  return out;
}

function fromValue(v: StructValue): unknown {
  if (v.string_value !== undefined) return v.string_value;
  if (v.number_value !== undefined) return v.number_value;
  if (v.bool_value !== undefined) return v.bool_value;
  if (v.struct_value !== undefined) return fromStruct(v.struct_value);
  if (v.list_value !== undefined) return v.list_value.values.map(fromValue);
  return null;
}
