/**
 * The notification e-mail to the person who owns a task, through SMTP (nodemailer), in
 * their language (notification_preferences, set from the web UI; English by default), with
 * a link to the task's page in the web UI.
 */
import type { Task } from '@speos-portal/protocol';
import type { Transporter } from 'nodemailer';

export type MailLanguage = 'en' | 'zh';

const WORDS: Record<MailLanguage, Record<string, string>> = {
  en: {
    'task.running': 'is running',
    'task.succeeded': 'finished successfully',
    'task.failed': 'failed',
    'task.cancelled': 'was cancelled',
    open: 'Open the task',
    footer: 'You get this because you submitted the task. Turn these e-mails off on the portal’s task list.',
    message: 'Message',
  },
  zh: {
    'task.running': '开始运行',
    'task.succeeded': '已成功完成',
    'task.failed': '运行失败',
    'task.cancelled': '已取消',
    open: '打开任务',
    footer: '您收到此邮件是因为您提交了该任务。可在门户的任务列表页关闭这些邮件。',
    message: '信息',
  },
};

export interface Mail {
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function composeMail(event: string, task: Task, taskUrl: string, language: MailLanguage): Mail {
  const words = WORDS[language];
  const name = task.display_name ?? task.job_name ?? task.task_id;
  const what = words[event] ?? event;
  const subject = language === 'zh' ? `SPEOS 任务「${name}」${what}` : `SPEOS task "${name}" ${what}`;
  const lines = [subject, '', `${words.open}: ${taskUrl}`];
  if (task.message) lines.push('', `${words.message}: ${task.message}`);
  lines.push('', words.footer!);
  const html = [
    `<p>${escapeHtml(subject)}</p>`,
    `<p><a href="${escapeHtml(taskUrl)}">${escapeHtml(words.open!)}</a></p>`,
    task.message ? `<p>${escapeHtml(words.message!)}: ${escapeHtml(task.message)}</p>` : '',
    `<p style="color:#666">${escapeHtml(words.footer!)}</p>`,
  ].join('');
  return { subject, text: lines.join('\n'), html };
}

export class Mailer {
  /** Loaded with the first mail: nodemailer is the largest library the server has, and most never send. */
  #transport: Promise<Transporter> | undefined;
  readonly #smtpUrl: string;
  readonly #from: string;

  constructor(smtpUrl: string, from: string) {
    this.#smtpUrl = smtpUrl;
    this.#from = from;
  }

  #open(): Promise<Transporter> {
    this.#transport ??= import('nodemailer').then(({ createTransport }) =>
      createTransport({
        url: this.#smtpUrl,
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 20_000,
      }),
    );
    return this.#transport;
  }

  async send(to: string, mail: Mail): Promise<void> {
    const transport = await this.#open();
    await transport.sendMail({ from: this.#from, to, subject: mail.subject, text: mail.text, html: mail.html });
  }

  close(): void {
    // A transport never loaded (no mail sent, or nodemailer failed to load) has nothing to close.
    this.#transport?.then(
      (transport) => transport.close(),
      () => {},
    );
  }
}
