/** The job form: files, job fields, advanced SPEOS options; validates like the server, then starts a Submission. */
import { acceptedExtensions, type UploadConfigResponse } from '@speos-portal/protocol';
import { type FormEvent, useRef, useState } from 'react';
import { auth } from '../api.js';
import { useI18n } from '../i18n/i18n.js';
import type { MessageKey } from '../i18n/messages.js';
import { readPref, writePref } from '../prefs.js';
import { submissions } from '../uploads/registry.js';
import { Submission } from '../uploads/submission.js';
import { Field } from './Field.js';
import { FileDrop } from './FileDrop.js';
import {
  ADVANCED_FIELDS,
  type FieldErrors,
  type FormValues,
  initialValues,
  toConfirmFields,
  validate,
} from './validation.js';

// File pickers offer what the worker can open (the protocol's one list).
const MASTER_ACCEPT = acceptedExtensions('master').join(',');
const INCLUDE_ACCEPT = acceptedExtensions('include').join(',');
const PRIORITIES = [0, 1, 2, 3, 4, 5] as const;

export function SubmitForm({ config }: { config: UploadConfigResponse }) {
  const { t } = useI18n();
  const form = useRef<HTMLFormElement>(null);
  const [values, setValues] = useState<FormValues>(() => initialValues(config, readPref('submitter') ?? ''));
  const [master, setMaster] = useState<File | undefined>();
  const [include, setInclude] = useState<File | undefined>();
  const [errors, setErrors] = useState<FieldErrors>({});
  const [advancedOpen, setAdvancedOpen] = useState(false);
  const [formKey, setFormKey] = useState(0);

  const set = <K extends keyof FormValues>(name: K, value: FormValues[K]) => {
    setValues((v) => ({ ...v, [name]: value }));
    // An error disappears as soon as the person edits its field; the rest wait for the next submit.
    if (errors[name]) setErrors(({ [name]: _gone, ...rest }) => rest);
  };
  const text = (name: keyof FormValues) => ({
    value: values[name] as string,
    onChange: (e: { target: { value: string } }) => set(name, e.target.value),
  });

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const found = validate(values, { master, include }, config, t);
    setErrors(found);
    if (Object.keys(found).length > 0) {
      if (ADVANCED_FIELDS.some((f) => found[f.name])) setAdvancedOpen(true);
      // Focus the first invalid control after React shows the messages.
      requestAnimationFrame(() => form.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
      return;
    }
    writePref('submitter', values.submitter.trim());
    submissions.add(Submission.create({ master: master!, include }, toConfirmFields(values), auth.client));
    // Ready for the next job: same person, settings and options; new files and name.
    setMaster(undefined);
    setInclude(undefined);
    setValues((v) => ({ ...v, jobName: '' }));
    setFormKey((k) => k + 1);
  };

  const hasErrors = Object.keys(errors).length > 0;
  return (
    <form ref={form} className="card submit-form" noValidate onSubmit={onSubmit} aria-labelledby="submit-title">
      <h2 id="submit-title">{t('submitTitle')}</h2>
      <fieldset className="group">
        <legend>{t('filesLegend')}</legend>
        <div className="grid two">
          <FileDrop
            key={`m${formKey}`}
            name="master"
            label={t('masterFile')}
            hint={t('masterHint')}
            file={master}
            accept={MASTER_ACCEPT}
            onChange={(f) => {
              setMaster(f);
              if (errors.master) setErrors(({ master: _gone, ...rest }) => rest);
              // A new model usually means a new job: offer its name.
              if (f && !values.jobName) set('jobName', f.name.replace(/\.[^.]+$/, ''));
            }}
            error={errors.master}
          />
          <FileDrop
            key={`i${formKey}`}
            name="include"
            label={t('includeFile')}
            hint={t('includeHint')}
            file={include}
            accept={INCLUDE_ACCEPT}
            onChange={(f) => {
              setInclude(f);
              if (errors.include) setErrors(({ include: _gone, ...rest }) => rest);
            }}
            error={errors.include}
          />
        </div>
      </fieldset>

      <fieldset className="group">
        <legend>{t('jobLegend')}</legend>
        <div className="grid job-grid">
          <Field label={t('jobName')} error={errors.jobName} className="span-2">
            <input type="text" name="job_name" autoComplete="off" {...text('jobName')} />
          </Field>
          <Field label={t('submitter')} hint={t('submitterHint')} error={errors.submitter} className="span-2">
            <input type="text" name="submitter" autoComplete="username" {...text('submitter')} />
          </Field>
          <Field label={t('profile')}>
            <select name="profile_name" {...text('profile')}>
              {config.profiles.map((p) => (
                <option key={p}>{p}</option>
              ))}
            </select>
          </Field>
          <Field label={t('version')}>
            <select name="version" {...text('version')}>
              {config.speos_versions.map((v) => (
                <option key={v}>{v}</option>
              ))}
            </select>
          </Field>
          <Field label={t('threads')} hint={t('threadsHint', { max: config.max_thread_count })} error={errors.threads}>
            <input
              type="number"
              name="thread_count"
              inputMode="numeric"
              min={1}
              max={config.max_thread_count}
              {...text('threads')}
            />
          </Field>
          <Field label={t('priority')} hint={t('priorityHint')}>
            <select name="priority" {...text('priority')}>
              {PRIORITIES.map((p) => (
                <option key={p} value={p}>
                  {t(`priorityName${p}` as MessageKey)}
                </option>
              ))}
            </select>
          </Field>
        </div>
      </fieldset>

      <details
        className="group advanced"
        open={advancedOpen}
        onToggle={(e) => setAdvancedOpen((e.target as HTMLDetailsElement).open)}
      >
        <summary>{t('advanced')}</summary>
        <div className="grid advanced-grid">
          {ADVANCED_FIELDS.map((f) => (
            <Field key={f.name} label={t(f.name)} note={t('optional')} error={errors[f.name]}>
              <input
                type={f.kind === 'text' ? 'text' : 'number'}
                name={f.wire}
                inputMode={f.kind === 'integer' ? 'numeric' : f.kind === 'positive' ? 'decimal' : undefined}
                step={f.kind === 'positive' ? 'any' : undefined}
                autoComplete="off"
                {...text(f.name)}
              />
            </Field>
          ))}
          <label className="checkbox">
            <input type="checkbox" checked={values.useGpu} onChange={(e) => set('useGpu', e.target.checked)} />
            {t('useGpu')}
          </label>
        </div>
      </details>

      <div className="form-footer">
        <button type="submit" className="primary big">
          {t('submit')}
        </button>
        {hasErrors ? (
          <p className="form-error" role="alert">
            {t('errFixBelow')}
          </p>
        ) : null}
      </div>
    </form>
  );
}
