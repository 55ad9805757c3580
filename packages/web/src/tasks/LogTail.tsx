/**
 * The solver's console log, tailed live: polls `GET /tasks/{id}/logs` from `next_offset`
 * every second until the server says the log is finished. It follows the end unless the
 * reader scrolls up, and keeps only the last ~1 MB in the page.
 */
import { type KeyboardEvent, useEffect, useLayoutEffect, useRef, useState, type WheelEvent } from 'react';
import { auth, errorDetail } from '../api.js';
import { formatBytes } from '../format.js';
import { useI18n } from '../i18n/i18n.js';
import { useObservable } from '../uploads/use-observable.js';
import { appendLog, EMPTY_BUFFER, type LogBuffer, MAX_LOG_CHARS } from './log-buffer.js';

const CHUNK_BYTES = 256 * 1024;
const POLL_MS = 1000;

interface LogState {
  buffer: LogBuffer;
  /** Bytes of log on the server so far. */
  size: number;
  finished: boolean;
  loaded: boolean;
}

const EMPTY: LogState = { buffer: EMPTY_BUFFER, size: 0, finished: false, loaded: false };

export function LogTail({
  taskId,
  queued,
  onFinished,
}: {
  taskId: string;
  queued: boolean;
  /** The whole log as the page holds it, once the server says it is complete. */
  onFinished?: (text: string) => void;
}) {
  const { t } = useI18n();
  const { generation } = useObservable(auth);
  const [log, setLog] = useState<LogState>(EMPTY);
  const [error, setError] = useState<string | undefined>();
  const pre = useRef<HTMLPreElement>(null);
  const follow = useRef(true);
  const [following, setFollowing] = useState(true);

  const finishedText = log.finished ? log.buffer.chunks.map((c) => c.text).join('') : undefined;
  useEffect(() => {
    if (finishedText !== undefined) onFinished?.(finishedText);
  }, [finishedText, onFinished]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: generation (a new token) restarts the tail
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let offset = 0;
    let first = true;
    /** After a jump into the middle of a long log: drop the partial line it lands in. */
    let midLine = false;
    setLog(EMPTY);
    const poll = async () => {
      try {
        const got = await auth.client().getLogs(taskId, { offset, limit: CHUNK_BYTES }, controller.signal);
        // A long log opened late: start near its end instead of reading megabytes we would drop.
        if (first && got.size - got.offset > MAX_LOG_CHARS + CHUNK_BYTES) {
          first = false;
          offset = got.size - MAX_LOG_CHARS;
          midLine = true;
          setLog((s) => ({ ...s, buffer: { ...s.buffer, dropped: true } }));
          timer = setTimeout(poll, 0);
          return;
        }
        first = false;
        offset = got.next_offset;
        setError(undefined);
        let content = got.content;
        if (midLine && content) {
          const newline = content.indexOf('\n');
          if (newline >= 0 && newline < 4096) content = content.slice(newline + 1);
          midLine = false;
        }
        setLog((s) => ({
          buffer: appendLog(s.buffer, content),
          size: got.size,
          finished: got.finished,
          loaded: true,
        }));
        if (got.finished) return;
        timer = setTimeout(poll, got.next_offset < got.size ? 0 : POLL_MS);
      } catch (e) {
        if (controller.signal.aborted) return;
        auth.noticeError(e);
        setError(errorDetail(e));
        timer = setTimeout(poll, POLL_MS * 3);
      }
    };
    void poll();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [taskId, generation]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: new text is what moves the view to the end
  useLayoutEffect(() => {
    const element = pre.current;
    if (element && follow.current) element.scrollTop = element.scrollHeight;
  }, [log.buffer]);

  // A narrower window rewraps the lines: stay at the end if following it.
  useEffect(() => {
    const element = pre.current;
    if (!element || typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(() => {
      if (follow.current) element.scrollTop = element.scrollHeight;
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  // How far from the end the last scroll event left the view: a move away from the end never
  // turns following on, even while still near it (the first frames of a smooth wheel scroll
  // are). Measured from the end, not the top: dropping old lines moves the top, not the end.
  const lastDistance = useRef(0);
  const onScroll = () => {
    const element = pre.current;
    if (!element) return;
    const distance = element.scrollHeight - element.scrollTop - element.clientHeight;
    const movedAway = distance > lastDistance.current + 1;
    lastDistance.current = distance;
    const atEnd = distance < 24 && !movedAway;
    follow.current = atEnd;
    setFollowing(atEnd);
  };

  // A wheel turned up or a key that moves up lets go of the end at once: waiting for the
  // scroll event loses a race with new lines, which would pull the reader back to the end.
  const stopFollowing = () => {
    if (!follow.current) return;
    follow.current = false;
    setFollowing(false);
  };
  const onWheel = (event: WheelEvent<HTMLPreElement>) => {
    if (event.deltaY < 0) stopFollowing();
  };
  const onKeyDown = (event: KeyboardEvent<HTMLPreElement>) => {
    if (['ArrowUp', 'PageUp', 'Home'].includes(event.key)) stopFollowing();
  };

  const jumpToEnd = () => {
    follow.current = true;
    setFollowing(true);
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  };

  const empty = log.loaded && log.buffer.length === 0;
  return (
    <section className="card log-card span-2" aria-labelledby="log-title">
      <div className="card-head">
        <h2 id="log-title">{t('sectionLog')}</h2>
        {log.loaded && !(queued && empty) ? (
          <span className={`log-state ${log.finished ? 'ended' : 'live'}`}>
            {log.finished ? null : <span className="pulse" aria-hidden="true" />}
            {t(log.finished ? 'logEnded' : 'logLive')}
          </span>
        ) : null}
        <span className="muted small mono card-head-end">{log.loaded ? formatBytes(log.size) : ''}</span>
      </div>
      {log.buffer.dropped ? (
        <p className="muted small">{t('logDropped', { size: formatBytes(MAX_LOG_CHARS) })}</p>
      ) : null}
      {error ? (
        <p className="notice error small" role="alert">
          {t('logError', { detail: error })}
        </p>
      ) : null}
      <div className="log-wrap">
        <pre
          ref={pre}
          className={`log${empty ? ' empty' : ''}`}
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable from the keyboard (WCAG 2.1.1)
          tabIndex={0}
          role="log"
          aria-live="off"
          aria-labelledby="log-title"
          onScroll={onScroll}
          onWheel={onWheel}
          onKeyDown={onKeyDown}
          data-finished={log.finished}
        >
          {empty
            ? t(queued ? 'logWaiting' : 'logEmpty')
            : log.buffer.chunks.map((c) => <span key={c.id}>{c.text}</span>)}
        </pre>
        {!following && !empty ? (
          <button type="button" className="small log-follow" onClick={jumpToEnd}>
            {t('logFollow')}
          </button>
        ) : null}
      </div>
    </section>
  );
}
