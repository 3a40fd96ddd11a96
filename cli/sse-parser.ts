/** Server-Sent Events: text chunks in, `{event, data}` messages out (comments are heartbeats). */

export interface SseMessage {
  event: string;
  data: string;
  id?: string;
}

/** Incremental parser: feed it text as it arrives; it returns the messages completed so far. */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;
  /** Comment lines seen (`: ping`), so a caller can tell the stream is alive. */
  comments = 0;

  push(text: string): SseMessage[] {
    this.buffer += text;
    const out: SseMessage[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      if (line === '') {
        if (this.data.length > 0) {
          const msg: SseMessage = { event: this.event || 'message', data: this.data.join('\n') };
          if (this.id !== undefined) msg.id = this.id;
          out.push(msg);
        }
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) {
        this.comments += 1;
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.event = value;
      else if (field === 'data') this.data.push(value);
      else if (field === 'id') this.id = value;
    }
    return out;
  }
}
