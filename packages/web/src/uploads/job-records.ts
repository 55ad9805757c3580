/**
 * The job fields of a submission, saved next to the client's `upload_${task_id}` records so that
 * an upload resumed after a reload can still be confirmed with what the person typed.
 * Key: `speos_job_${master_task_id}`. Falls back to memory when localStorage refuses.
 */
import type { ConfirmFields } from '@speos-portal/client';

export interface JobRecord {
  master_task_id: string;
  /** The include archive's own upload task, absorbed into the master's task by confirm. */
  include_task_id?: string;
  fields: ConfirmFields;
  saved_at: number;
}

const PREFIX = 'speos_job_';
const memory = new Map<string, JobRecord>();

export function saveJobRecord(record: JobRecord): void {
  memory.set(record.master_task_id, record);
  try {
    localStorage.setItem(PREFIX + record.master_task_id, JSON.stringify(record));
  } catch {
    // No localStorage (private mode, quota): the record stays in memory for this page's life.
  }
}

export function loadJobRecord(masterTaskId: string): JobRecord | undefined {
  try {
    const raw = localStorage.getItem(PREFIX + masterTaskId);
    if (raw) return JSON.parse(raw) as JobRecord;
  } catch {
    // Unreadable storage or a damaged record: fall back to the copy in memory.
  }
  return memory.get(masterTaskId);
}

/** The job an include upload belongs to. */
export function findJobRecordByInclude(includeTaskId: string): JobRecord | undefined {
  for (const record of allJobRecords()) if (record.include_task_id === includeTaskId) return record;
  return undefined;
}

export function removeJobRecord(masterTaskId: string): void {
  memory.delete(masterTaskId);
  try {
    localStorage.removeItem(PREFIX + masterTaskId);
  } catch {
    // No localStorage: the in-memory record is gone already.
  }
}

function allJobRecords(): JobRecord[] {
  const found = new Map(memory);
  try {
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key?.startsWith(PREFIX)) continue;
      const record = JSON.parse(localStorage.getItem(key) ?? 'null') as JobRecord | null;
      if (record?.master_task_id) found.set(record.master_task_id, record);
    }
  } catch {
    // Unreadable storage or a damaged record: the records in memory are all there is.
  }
  return [...found.values()];
}
