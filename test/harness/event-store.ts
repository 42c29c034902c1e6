// An MCP SDK EventStore for the test servers: events in the order they were stored, replayed per stream.
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/**
 * The SDK's example store sorts ids that start with a timestamp, so two events of one millisecond can swap, and it
 * cannot replay the standalone stream (whose id `_GET_stream` it splits on `_`); this one keeps a counter.
 */
export class OrderedEventStore implements EventStore {
  private readonly events: Array<{ id: string; streamId: string; message: JSONRPCMessage }> = [];

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const id = `ev-${this.events.length + 1}`;
    this.events.push({ id, streamId, message });
    return id;
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return this.events.find((e) => e.id === eventId)?.streamId;
  }

  async replayEventsAfter(lastEventId: string, { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> }): Promise<string> {
    const at = this.events.findIndex((e) => e.id === lastEventId);
    if (at === -1) throw new Error(`unknown event id ${lastEventId}`);
    const { streamId } = this.events[at] as { streamId: string };
    for (const e of this.events.slice(at + 1)) {
      // Priming events (empty messages) mark a stream's start; they are not replayed.
      if (e.streamId === streamId && Object.keys(e.message).length > 0) await send(e.id, e.message);
    }
    return streamId;
  }
}
