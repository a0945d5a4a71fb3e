import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';

/** One question and its answer, with the tools used for it. */
const Turn = z.object({ question: z.string().max(4000), answer: z.string().max(8000), toolCalls: z.array(z.string().max(300)).max(20), at: z.string() });
export type Turn = z.infer<typeof Turn>;
const Conversation = z.object({ id: z.string(), turns: z.array(Turn).max(100) });

/** Conversation ids are 16 hex digits: nothing else reaches the file system. */
const CONVERSATION_ID = /^[0-9a-f]{16}$/;
/** Turns a conversation keeps on disk; the oldest go first. */
const TURNS_KEPT = 20;
/** What is kept of one answer. */
const ANSWER_KEPT = 4000;

export class ConversationError extends Error {
  override readonly name = 'ConversationError';
}

/**
 * `qubinode ai ask --conversation ID`: earlier turns, one file per conversation under the AI store
 * (owner-only). A follow-up question is asked with the last turns before it, so "and on which host?"
 * means the run the conversation was about.
 */
export class ConversationStore {
  constructor(private readonly dir: string) {}

  /** A new, empty conversation's id. */
  start(): string {
    return randomBytes(8).toString('hex');
  }

  /** The turns of a conversation, oldest first; an unknown or malformed id is refused, never looked up as a path. */
  turns(id: string): Turn[] {
    const file = this.fileOf(id);
    if (!existsSync(file)) throw new ConversationError(`no conversation ${id} (start one by asking without --conversation)`);
    const parsed = Conversation.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new ConversationError(`conversation ${id} is damaged: ${file}`);
    return parsed.data.turns;
  }

  /** Adds a turn (written whole: a new file then a rename). */
  append(id: string, turn: Turn): void {
    const file = this.fileOf(id);
    const earlier = existsSync(file) ? this.turns(id) : [];
    const turns = [...earlier, { ...turn, answer: turn.answer.slice(0, ANSWER_KEPT), question: turn.question.slice(0, 4000) }].slice(-TURNS_KEPT);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const staging = `${file}.new`;
    writeFileSync(staging, JSON.stringify({ id, turns }), { mode: 0o600 });
    chmodSync(staging, 0o600);
    renameSync(staging, file);
  }

  private fileOf(id: string): string {
    if (!CONVERSATION_ID.test(id)) throw new ConversationError(`a conversation id is 16 hex digits, not ${JSON.stringify(id.slice(0, 40))}`);
    return path.join(this.dir, `${id}.json`);
  }
}
