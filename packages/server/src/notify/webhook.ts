/**
 * One webhook delivery: POST of `{event, task, sent_at}` as JSON, signed with
 * `X-Speos-Portal-Signature: sha256=<hex HMAC-SHA256 of the raw body>` when
 * NOTIFY_WEBHOOK_SECRET is set. Any 2xx is delivered; anything else is retried.
 */
import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Speos-Portal-Signature';
const TIMEOUT_MS = 10_000;

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Throws with a short reason when the receiver did not take it. */
export async function postWebhook(
  url: string,
  message: { event: string; task: unknown; sent_at: number },
  secret: string | undefined,
): Promise<void> {
  const body = JSON.stringify(message);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'speos-portal-webhook',
    'x-speos-portal-event': message.event,
  };
  if (secret) headers[SIGNATURE_HEADER.toLowerCase()] = signBody(body, secret);
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  await response.arrayBuffer().catch(() => {});
  if (response.status < 200 || response.status > 299) throw new Error(`the receiver answered HTTP ${response.status}`);
}
