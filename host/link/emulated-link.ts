// emulated:NAME — a console cable straight into an emulated board in this process (tests, the demo).
// The board is powered on when the link opens if it is off; closing the link leaves the board running,
// as unplugging a USB cable from a powered board would. A board whose power is cut simply stops
// answering, as a real one does; the link itself stays open.
import { deviceError } from '../errors.js';
import { EmulatedBoard, type BoardOptions } from '../emulator/board.js';
import { LinkListeners, type ConsoleLink } from './console-link.js';

export class EmulatedLink implements ConsoleLink {
  private readonly l = new LinkListeners();
  private open_ = false;
  readonly board: EmulatedBoard;
  readonly url: string;
  private readonly onOutput = (b: Buffer) => this.l.emitData(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));

  /** A link to this board, or to a new one made from these options (emulated:NAME gives the name). */
  constructor(boardOrOptions: EmulatedBoard | BoardOptions) {
    this.board = boardOrOptions instanceof EmulatedBoard ? boardOrOptions : new EmulatedBoard(boardOrOptions);
    this.url = `emulated:${this.board.name}`;
  }

  get isOpen(): boolean {
    return this.open_;
  }

  async open(): Promise<void> {
    try {
      if (!this.board.isOn) this.board.powerOn();
    } catch (e) {
      throw deviceError(`cannot power on ${this.url}: ${(e as Error).message}`, undefined, e);
    }
    this.board.on('output', this.onOutput);
    this.open_ = true;
  }

  async write(data: Uint8Array | string): Promise<void> {
    if (!this.open_) throw deviceError(`the console ${this.url} is not open`);
    // Delivered on the next turn, as bytes on a wire arrive after write() returns.
    await new Promise<void>((r) => setImmediate(r));
    this.board.write(data);
  }

  onData(cb: (d: Uint8Array) => void): () => void {
    return this.l.onData(cb);
  }

  onClose(cb: (e?: Error) => void): () => void {
    return this.l.onClose(cb);
  }

  async close(): Promise<void> {
    if (!this.open_) return;
    this.open_ = false;
    this.board.off('output', this.onOutput);
    this.l.emitClose();
  }
}
