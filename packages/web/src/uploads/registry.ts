/** The submissions of this page, newest first; lives outside React so uploads survive route changes. */
import { Observable } from './observable.js';
import type { Submission } from './submission.js';

class SubmissionRegistry extends Observable<{ items: Submission[] }> {
  add(submission: Submission): void {
    this.set({ items: [submission, ...this.snapshot.items] });
  }
  remove(submission: Submission): void {
    this.set({ items: this.snapshot.items.filter((s) => s !== submission) });
  }
}

export const submissions = new SubmissionRegistry({ items: [] });
