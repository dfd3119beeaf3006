import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

/** Live updates: the console polls (the API has no server-sent events). These are the rates. */
export const POLL_ACTIVE_MS = 1000; // a job the operator is watching (backup, verify, restore)
export const POLL_IDLE_MS = 15000; // dashboards and lists with nothing running

/** Loads on mount and whenever deps change, then every `intervalMs` (while the tab is visible). */
export function usePoll<T>(
  load: () => Promise<T>,
  intervalMs: number | ((v: T | undefined) => number),
  deps: unknown[] = [],
): { data: T | undefined; error: ApiError | null; reload: () => Promise<void> } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const latest = useRef<T | undefined>(undefined);
  const run = useCallback(async () => {
    try {
      const v = await load();
      latest.current = v;
      setData(v);
      setError(null);
    } catch (e) {
      setError(asApiError(e));
    }
  }, deps);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      if (!document.hidden) await run();
      if (stopped) return;
      const ms = typeof intervalMs === 'function' ? intervalMs(latest.current) : intervalMs;
      timer = setTimeout(() => void tick(), ms);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [run]);
  return { data, error, reload: run };
}

export function asApiError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError(0, 'Error', [e instanceof Error ? e.message : String(e)]);
}

/** The API's error, worded for the operator: what the status means, then the API's own sentences. */
export function ErrorBox({ error }: { error: ApiError | null }) {
  if (!error) return null;
  const meaning: Record<number, string> = {
    401: 'The API key was not accepted.',
    403: 'Your key’s role may not do this.',
    404: 'Not found.',
    409: 'Not possible right now.',
    413: 'Too large.',
    422: 'Refused.',
    429: `Too many requests${error.retryAfter ? `: try again in ${error.retryAfter} s` : ''}.`,
    503: `The service is unavailable${error.retryAfter ? `: try again in ${error.retryAfter} s` : ''}.`,
  };
  return (
    <div class="error" role="alert">
      <strong>
        {error.status ? `${error.status} ${error.error}` : error.error}
        {meaning[error.status] ? ` — ${meaning[error.status]}` : ''}
      </strong>
      {error.messages.length === 1 ? (
        <p>{error.messages[0]}</p>
      ) : (
        <ul>
          {error.messages.map((m) => (
            <li key={m}>{m}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Badge({ value }: { value: string }) {
  return <span class={`badge badge-${value.replace(/[^a-z_-]/gi, '')}`}>{value.replace('_', ' ')}</span>;
}

export function Card({ title, children, wide }: { title: string; children: ComponentChildren; wide?: boolean }) {
  return (
    <section class={wide ? 'card wide' : 'card'} aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/** Runs an action, keeping its error and a busy flag for the button that started it. */
export function useAction(): {
  busy: boolean;
  error: ApiError | null;
  setError: (e: ApiError | null) => void;
  run: <T>(fn: () => Promise<T>) => Promise<T | undefined>;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = async <T,>(fn: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (e) {
      setError(asApiError(e));
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

/** A confirmation step inside the page (no window.confirm): the operator types the phrase shown. */
export function TypedConfirm(props: {
  phrase: string;
  label: string;
  action: string;
  busy?: boolean;
  danger?: boolean;
  onConfirm: (typed: string) => void;
  onCancel?: () => void;
}) {
  const [typed, setTyped] = useState('');
  const id = `confirm-${props.phrase.replace(/\W+/g, '-')}`;
  return (
    <form
      class="confirm"
      onSubmit={(e) => {
        e.preventDefault();
        if (typed === props.phrase) props.onConfirm(typed);
      }}
    >
      <label for={id}>
        {props.label} Type <code class="phrase">{props.phrase}</code> to confirm.
      </label>
      <input
        id={id}
        value={typed}
        autocomplete="off"
        spellcheck={false}
        onInput={(e) => setTyped(e.currentTarget.value)}
      />
      <div class="row">
        <button
          type="submit"
          class={props.danger ? 'danger' : 'primary'}
          disabled={typed !== props.phrase || props.busy}
        >
          {props.action}
        </button>
        {props.onCancel && (
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}

export function Progress({ value, max, label }: { value: number; max: number; label: string }) {
  return (
    <div class="progress-wrap">
      <progress value={max > 0 ? value : undefined} max={max > 0 ? max : undefined} aria-label={label} />
      <span aria-live="polite">{label}</span>
    </div>
  );
}

export function Pager({
  hasPrev,
  next,
  onPrev,
  onNext,
}: {
  hasPrev: boolean;
  next: boolean;
  onPrev: () => void;
  onNext: () => void;
}) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={!hasPrev} onClick={onPrev}>
        ← Newer
      </button>
      <button type="button" disabled={!next} onClick={onNext}>
        Older →
      </button>
    </nav>
  );
}

export function navigate(path: string): void {
  location.hash = path;
}
