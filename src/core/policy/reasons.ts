// The reason codes of decisions: one table for every reply toolgate gives, kept in core/mcp/reply-table.ts so the
// floor of core (message classification) can read it too; re-exported here for the policy code that names them.
export { REASONS, TOOL_POLICY_REASONS, reasonData, type ReasonCode, type ReasonInfo } from '../mcp/reply-table.js';
