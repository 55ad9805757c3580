/** A run that cannot start or finish for a reason the user should read (it becomes the task's message). */
export class TaskFailure extends Error {
  constructor(
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'TaskFailure';
  }
}
