// Config section `http`: which Host and Origin headers the MCP endpoint answers to (DNS-rebinding protection).
import { z } from 'zod';

/** A hostname (`mcp.example.com`), an IP (`127.0.0.1`, `[::1]`), `*.example.com` (any subdomain) or `*` (any). */
const allowedHost = z
  .string()
  .regex(
    /^(\*|(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\])$/,
    'must be a hostname without port or scheme (mcp.example.com, 127.0.0.1, [::1]), *.example.com, or *',
  );

/** `scheme://host[:port]` (port `*`: any port), `null` (sandboxed pages, file://), or `*` (any origin). */
const allowedOrigin = z
  .string()
  .regex(
    /^(\*|null|[A-Za-z][A-Za-z0-9+.-]*:\/\/(\[[0-9A-Fa-f:.]+\]|[^\s/:?#@[\]]+)(:(\d{1,5}|\*))?)$/,
    'must be an origin such as https://app.example.com or http://localhost:* (no path), null, or *',
  );

export const httpSchema = z
  .object({
    /**
     * Host (`:authority`) names requests may carry; the port is not compared. Default: the host of `resource`,
     * localhost, 127.0.0.1 and [::1]. A list given here replaces the default.
     */
    allowedHosts: z.array(allowedHost).min(1).optional(),
    /**
     * Origins a browser request may come from; a request without Origin (not a browser) is judged on Host alone.
     * Default: the origin of `resource` and http(s) on localhost, 127.0.0.1 and [::1], any port. Replaces the default.
     */
    allowedOrigins: z.array(allowedOrigin).min(1).optional(),
  })
  .strict()
  .default({});
