// Config section for pinned tool, prompt and resource-template definitions (rug-pull protection, docs/pins.md).
import { z } from 'zod';

/** What `toolgate pins` prints: `sha256-` and the hex SHA-256 of the definition's canonical JSON (src/core/pins/digest.ts). */
export const PIN_DIGEST = /^sha256-[0-9a-f]{64}$/;

const digest = z.string().regex(PIN_DIGEST, 'must be "sha256-" followed by 64 lower-case hex digits, as `toolgate pins` prints it');

/** off: lists pass untouched; learn: first sight is recorded, nothing is hidden; enforce: a changed definition is hidden and refused. */
export const pinModeSchema = z.enum(['off', 'learn', 'enforce'], { message: 'must be off, learn or enforce' });

const pinsObject = z
  .object({
    mode: pinModeSchema,
    /**
     * enforce only: what happens to an item no config pin below names. `learn` (default): its first sight is
     * recorded in the store and later sights are compared with it; `refuse`: it is hidden and refused until pinned here.
     */
    unpinned: z.enum(['learn', 'refuse'], { message: 'must be learn or refuse' }).default('learn'),
    /** Tool name (as the backend names it, without the gateway prefix) → approved digest. */
    tools: z.record(z.string().min(1), digest).default({}),
    /** Prompt name (as the backend names it) → approved digest. */
    prompts: z.record(z.string().min(1), digest).default({}),
    /** Resource template, by its uriTemplate → approved digest. */
    resourceTemplates: z.record(z.string().min(1), digest).default({}),
  })
  .strict();

/** `pins: enforce` is short for `pins: {mode: enforce}`; absent is off. */
export const pinsSchema = z.preprocess((value) => (typeof value === 'string' ? { mode: value } : value), pinsObject).optional();

export type PinsConfig = z.output<typeof pinsObject>;
export type PinMode = z.output<typeof pinModeSchema>;
