// Whether a decoded protobufjs message carries a field: set on the message itself, not a prototype default.
const hasOwn = Object.prototype.hasOwnProperty;

/**
 * protobufjs puts proto3 defaults ("" , 0, an empty map) on a message type's prototype and sets a field on the message
 * only when the wire carried it; `toObject` with `defaults: false` copies exactly those. This is its test.
 */
export function present(message: object, field: string): boolean {
  return (message as Record<string, unknown>)[field] != null && hasOwn.call(message, field);
}
