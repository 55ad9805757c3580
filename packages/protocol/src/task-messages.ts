/**
 * The notes the server writes into a task's `message` and status history, as codes with
 * parameters, in English (what the server stores and sends as text) and Chinese. Clients
 * render `code` + `params` in their user's language and fall back to the English text for
 * a message they do not know. The server stores only the text: the code is recovered by
 * matching these templates, so rows written before codes existed are translated too — and
 * a template changed here must match what the server writes (the tests check both).
 */
export type MessageLang = 'en' | 'zh';

export const TASK_MESSAGES = {
  SUBMITTED: { en: 'submitted', zh: '已提交' },
  CLAIMED: { en: 'claimed by {worker}', zh: '已由计算节点 {worker} 领取' },
  STOPPED_BY_REQUEST: { en: 'stopped by request', zh: '已按请求停止' },
  STOPPED_BEFORE_START: { en: 'stopped before it started', zh: '在开始运行前已停止' },
  STOPPED_UNCONFIRMED: { en: 'stopped; the worker did not confirm', zh: '已停止；计算节点未确认' },
  STOPPED_WORKER_LOST: { en: 'stopped; worker {worker} was lost', zh: '已停止；计算节点 {worker} 失联' },
  STOPPED: { en: 'stopped', zh: '已停止' },
  SOLVER_EXIT_CODE: { en: 'SPEOS stopped with exit code {exit_code}', zh: 'SPEOS 异常退出，退出码 {exit_code}' },
  SOLVER_SIGNAL: { en: 'SPEOS stopped with signal {signal}', zh: 'SPEOS 因信号 {signal} 而终止' },
  WORKER_LOST_REQUEUED: { en: 'worker {worker} lost; re-queued', zh: '计算节点 {worker} 失联；已重新排队' },
  WORKER_SHUT_DOWN_REQUEUED: {
    en: 'worker {worker} shut down; re-queued',
    zh: '计算节点 {worker} 已关闭；已重新排队',
  },
  WORKER_LOST_TIMES: { en: 'worker lost {attempts} times', zh: '计算节点失联 {attempts} 次' },
  WORKER_LOST_GAVE_UP: {
    en: 'The worker running this task was lost {attempts} times (last: {worker}); not retrying automatically.',
    zh: '运行此任务的计算节点已失联 {attempts} 次（最近一次：{worker}）；不再自动重试。',
  },
  UPLOAD_ABORTED: { en: 'upload aborted', zh: '上传已取消' },
  UPLOAD_EXPIRED: {
    en: 'upload not completed within {hours} h; its parts were deleted',
    zh: '上传未在 {hours} 小时内完成；已上传的分片已删除',
  },
  NO_WORKER_ONLINE: {
    en: 'No worker is online: the job waits until one starts (see "Running SPEOS jobs" in the README).',
    zh: '没有在线的计算节点：任务会一直排队，直到有节点启动（见 README 的“Running SPEOS jobs”）。',
  },
  NO_WORKER_FOR_VERSION: {
    en: 'No online worker runs SPEOS {version}: the job waits until one that does starts.',
    zh: '没有在线的计算节点运行 SPEOS {version}：任务会一直排队，直到有这样的节点启动。',
  },
} as const satisfies Record<string, Record<MessageLang, string>>;

export type TaskMessageCode = keyof typeof TASK_MESSAGES;
export type MessageParams = Record<string, string>;

/** A message's text in one language, its `{name}` placeholders filled in. */
export function renderTaskMessage(code: TaskMessageCode, params: MessageParams, lang: MessageLang): string {
  return TASK_MESSAGES[code][lang].replace(/\{(\w+)\}/g, (whole, name: string) => params[name] ?? whole);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Each English template as an anchored pattern with one named group per placeholder. */
const PATTERNS = (Object.keys(TASK_MESSAGES) as TaskMessageCode[]).map((code) => {
  const names: string[] = [];
  const source = TASK_MESSAGES[code].en
    .split(/(\{\w+\})/)
    .map((piece) => {
      const placeholder = /^\{(\w+)\}$/.exec(piece);
      if (!placeholder) return escapeRegExp(piece);
      names.push(placeholder[1]!);
      return '(.+?)';
    })
    .join('');
  return { code, names, pattern: new RegExp(`^${source}$`, 's') };
});

/** The code and parameters of a message the server wrote, or null for one without a code. */
export function parseTaskMessage(
  text: string | null | undefined,
): { code: TaskMessageCode; params: MessageParams } | null {
  if (!text) return null;
  for (const { code, names, pattern } of PATTERNS) {
    const match = pattern.exec(text);
    if (!match) continue;
    const params: MessageParams = {};
    names.forEach((name, i) => {
      params[name] = match[i + 1]!;
    });
    return { code, params };
  }
  return null;
}

/** A server message in the user's language: by its code when it has one, else as the server wrote it. */
export function localizeTaskMessage(
  text: string,
  code: string | null | undefined,
  params: MessageParams | null | undefined,
  lang: MessageLang,
): string {
  if (lang === 'en' || !code || !(code in TASK_MESSAGES)) return text;
  return renderTaskMessage(code as TaskMessageCode, params ?? {}, lang);
}
