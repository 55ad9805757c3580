import { useI18n } from '../i18n/i18n.js';
import type { Lang } from '../i18n/messages.js';

/** Two buttons named in their own language ("English", "中文"), whatever the current one is. */
const LANGUAGES: { lang: Lang; name: string; htmlLang: string }[] = [
  { lang: 'zh', name: '中文', htmlLang: 'zh-CN' },
  { lang: 'en', name: 'English', htmlLang: 'en' },
];

export function LanguageSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <fieldset className="lang-switch">
      <legend className="visually-hidden">{t('languageSwitch')}</legend>
      {LANGUAGES.map((l) => (
        <button
          key={l.lang}
          type="button"
          lang={l.htmlLang}
          aria-pressed={lang === l.lang}
          onClick={() => setLang(l.lang)}
        >
          {l.name}
        </button>
      ))}
    </fieldset>
  );
}
