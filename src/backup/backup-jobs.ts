/** Background jobs of this process, so shutdown can cancel them and tests can await them. */
export class JobRegistry {
  private readonly jobs = new Map<string, { abort: AbortController; done: Promise<void> }>();

  start(id: string, run: (signal: AbortSignal) => Promise<void>): void {
    const abort = new AbortController();
    const done = run(abort.signal).finally(() => this.jobs.delete(id));
    this.jobs.set(id, { abort, done });
  }

  has(id: string): boolean {
    return this.jobs.has(id);
  }

  async wait(id: string): Promise<void> {
    await this.jobs.get(id)?.done;
  }

  async cancelAll(): Promise<void> {
    const all = [...this.jobs.values()];
    for (const j of all) j.abort.abort();
    await Promise.allSettled(all.map((j) => j.done));
  }
}
