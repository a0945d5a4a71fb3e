// nodemailer ships no types and @types/nodemailer is not installed: the small part used by notify.ts.
declare module 'nodemailer' {
  interface SentMessageInfo {
    messageId: string;
    accepted: unknown[];
    rejected: unknown[];
  }
  interface Transporter {
    sendMail(message: { from: string; to: string[]; subject: string; text: string }): Promise<SentMessageInfo>;
    close(): void;
  }
  export function createTransport(url: string, defaults?: Record<string, unknown>): Transporter;
}
