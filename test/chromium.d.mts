/** Path of Debian's Chromium (CHROMIUM_PATH overrides). */
export declare const CHROMIUM_PATH: string;
/** Flags every test and the bench start Chromium with. */
export declare const CHROMIUM_ARGS: string[];
