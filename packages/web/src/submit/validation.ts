/**
 * The form's rules, mirroring the server's (packages/protocol ConfirmRequest and the config's
 * limits), so a person sees the problem beside the field before anything is uploaded.
 */
import type { ConfirmFields } from '@speos-portal/client';
import {
  ARCHIVE_EXTENSIONS,
  acceptedInputType,
  type InputFileType,
  MODEL_EXTENSIONS,
  type UploadConfigResponse,
} from '@speos-portal/protocol';
import { formatBytes } from '../format.js';
import type { Translate } from '../i18n/i18n.js';

export interface FormValues {
  jobName: string;
  submitter: string;
  profile: string;
  version: string;
  threads: string;
  priority: string;
  simulationIndex: string;
  rayCount: string;
  durationMinutes: string;
  hpcJobName: string;
  nodeCount: string;
  walltimeHours: string;
  useGpu: boolean;
  ansysRelease: string;
  projectDir: string;
}

export type FieldName = keyof FormValues | 'master' | 'include';
export type FieldErrors = Partial<Record<FieldName, string>>;

/** The advanced fields, in the order they appear; numeric ones say how they are checked. */
export const ADVANCED_FIELDS = [
  { name: 'simulationIndex', wire: 'simulation_index', kind: 'integer', min: 0, max: 10_000 },
  { name: 'rayCount', wire: 'ray_count', kind: 'integer', min: 1, max: Number.MAX_SAFE_INTEGER },
  { name: 'durationMinutes', wire: 'duration_minutes', kind: 'positive', max: 525_600 },
  { name: 'hpcJobName', wire: 'hpc_job_name', kind: 'text', max: 200 },
  { name: 'nodeCount', wire: 'node_count', kind: 'integer', min: 1, max: 1024 },
  { name: 'walltimeHours', wire: 'walltime_hours', kind: 'positive', max: 8760 },
  { name: 'ansysRelease', wire: 'ansys_release', kind: 'text', max: 20 },
  { name: 'projectDir', wire: 'project_dir', kind: 'text', max: 1024 },
] as const satisfies readonly {
  name: keyof FormValues;
  wire: keyof ConfirmFields;
  kind: 'integer' | 'positive' | 'text';
  min?: number;
  max: number;
}[];

export function initialValues(config: UploadConfigResponse | undefined, submitter: string): FormValues {
  return {
    jobName: '',
    submitter,
    profile: config?.profiles[0] ?? 'Standard',
    version: config?.default_version ?? 'v252',
    threads: String(Math.min(8, config?.max_thread_count ?? 8)),
    priority: '2',
    simulationIndex: '',
    rayCount: '',
    durationMinutes: '',
    hpcJobName: '',
    nodeCount: '',
    walltimeHours: '',
    useGpu: false,
    ansysRelease: '',
    projectDir: '',
  };
}

const isInteger = (s: string) => /^-?\d+$/.test(s.trim());
const isNumber = (s: string) => s.trim() !== '' && Number.isFinite(Number(s));

function checkFile(file: File | undefined, fileType: InputFileType, maxSize: number, t: Translate): string | undefined {
  if (!file) return undefined;
  // The protocol's list, as the server's init and the worker use it (a dropped file skips `accept`).
  if (!acceptedInputType(file.name, fileType).ok) {
    const archives = ARCHIVE_EXTENSIONS.map((a) => a.extension).join(' ');
    return fileType === 'master'
      ? t('errMasterType', { models: MODEL_EXTENSIONS.join(' '), archives })
      : t('errIncludeType', { archives });
  }
  if (file.size === 0) return t('errFileEmpty');
  if (file.size > maxSize) return t('errFileTooLarge', { size: formatBytes(file.size), max: formatBytes(maxSize) });
  return undefined;
}

export function validate(
  values: FormValues,
  files: { master: File | undefined; include: File | undefined },
  config: UploadConfigResponse,
  t: Translate,
): FieldErrors {
  const errors: FieldErrors = {};
  errors.master = files.master ? checkFile(files.master, 'master', config.max_file_size, t) : t('errMasterMissing');
  errors.include = checkFile(files.include, 'include', config.max_file_size, t);
  const name = values.jobName.trim();
  if (name.length < 1 || name.length > 200) errors.jobName = t('errJobNameLength');
  if (values.submitter.length > 100) errors.submitter = t('errTooLong', { max: 100 });
  const threads = values.threads.trim();
  if (!isInteger(threads)) errors.threads = t('errInteger');
  else if (Number(threads) < 1 || Number(threads) > config.max_thread_count)
    errors.threads = t('errRange', { min: 1, max: config.max_thread_count });
  for (const field of ADVANCED_FIELDS) {
    const raw = values[field.name].trim();
    if (raw === '') continue;
    if (field.kind === 'text') {
      if (raw.length > field.max) errors[field.name] = t('errTooLong', { max: field.max });
    } else if (field.kind === 'integer') {
      if (!isInteger(raw)) errors[field.name] = t('errInteger');
      else if (Number(raw) < field.min || Number(raw) > field.max)
        errors[field.name] = t('errRange', { min: field.min, max: field.max });
    } else if (!isNumber(raw)) errors[field.name] = t('errNumber');
    else if (Number(raw) <= 0 || Number(raw) > field.max) errors[field.name] = t('errPositive', { max: field.max });
  }
  for (const key of Object.keys(errors) as FieldName[]) if (errors[key] === undefined) delete errors[key];
  return errors;
}

/** The confirm body's job fields (the uploader adds task_id and the object keys). */
export function toConfirmFields(values: FormValues): ConfirmFields {
  const fields: ConfirmFields = {
    job_name: values.jobName.trim(),
    profile_name: values.profile,
    version: values.version,
    thread_count: Number(values.threads.trim()),
    priority: Number(values.priority),
  };
  if (values.submitter.trim()) fields.submitter = values.submitter.trim();
  const optional = fields as Record<string, unknown>;
  for (const field of ADVANCED_FIELDS) {
    const raw = values[field.name].trim();
    if (raw !== '') optional[field.wire] = field.kind === 'text' ? raw : Number(raw);
  }
  if (values.useGpu) fields.use_gpu = true;
  return fields;
}
